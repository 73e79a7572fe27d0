"""The camera: slight vignetting (1 - k r^2 in linear light), sRGB encoding, and Gaussian noise in code values with
variance read^2 + shot * signal (signal from the green channel) plus weaker half-resolution chroma noise.

The noise of a frame is a window at a random offset (from the frame's generator) into one of a few seeded per-clip
fields: drawing fresh normals for every pixel of every frame would cost more than the rest of a simple look. One
numba pass per frame does vignetting, encoding and noise."""
from __future__ import annotations

import numpy as np
from numba import njit

from sdg.augment.base import stable_seed
from sdg.augment.looks.colour import ENCODE_U8, encode_index
from sdg.augment.looks.params import LookParams
from sdg.augment.looks.resample import nearest_index

NOISE_BANK = 3  # fields per clip
NOISE_PAD = 64  # margin of each field around the frame: the window's random offset


def vignette(width: int, height: int, strength: float) -> np.ndarray:
    """(H, W) float32 gain 1 - k r^2, r the distance from the centre normalised by the half diagonal."""
    yy = (np.arange(height, dtype=np.float32) + 0.5 - height / 2.0) / (height / 2.0)
    xx = (np.arange(width, dtype=np.float32) + 0.5 - width / 2.0) / (width / 2.0)
    diag = np.hypot(width, height)
    r2 = xx[None, :] ** 2 * (width / diag) ** 2 + yy[:, None] ** 2 * (height / diag) ** 2
    return (1.0 - strength * r2).astype(np.float32)


class Sensor:
    """Per clip: the vignette and the noise fields of one look. ``frame`` encodes a linear frame to uint8."""

    def __init__(self, width: int, height: int, p: LookParams, seed: int):
        self.w, self.h = width, height
        self.p = p
        self.vignette = vignette(width, height, p.vignette)
        brng = np.random.default_rng(stable_seed(seed, "noise-bank"))
        pad = NOISE_PAD
        self.luma = [brng.standard_normal((height + pad, width + pad), dtype=np.float32) for _ in range(NOISE_BANK)]
        self.hc, self.wc = max(height // 2, 1), max(width // 2, 1)
        self.chroma = [brng.standard_normal((self.hc + pad // 2, self.wc + pad // 2, 3), dtype=np.float32)
                       for _ in range(NOISE_BANK)]
        self.cy_index = nearest_index(self.hc, height)
        self.cx_index = nearest_index(self.wc, width)
        # luma noise std in codes by the pixel's green code: sqrt(read^2 + shot * signal) x 255
        signal = np.arange(256, dtype=np.float32) * np.float32(1.0 / 255.0)
        self.sigma = (np.sqrt(np.float32(p.read_noise ** 2) + np.float32(p.shot_noise) * signal)
                      * np.float32(255.0)).astype(np.float32)

    def frame(self, lin: np.ndarray, rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
        """Vignetting, encoding and noise of one linear frame (H, W, 3) float32 into ``out`` (H, W, 3) uint8; the
        noise window is drawn from ``rng``."""
        k, dy, dx, cy, cx = (int(x) for x in rng.integers(0, [NOISE_BANK, NOISE_PAD, NOISE_PAD, NOISE_PAD // 2,
                                                              NOISE_PAD // 2]))
        flip = bool(rng.integers(2))
        _sensor_kernel(lin, self.vignette, ENCODE_U8, self.luma[k], dy, dx, flip,
                       self.chroma[(k + 1) % NOISE_BANK], cy, cx, self.cy_index, self.cx_index, self.sigma,
                       np.float32(0.5 * self.p.read_noise * 255.0), out)
        return out


def encode_frame(lin: np.ndarray, out: np.ndarray) -> np.ndarray:
    """No sensor: plain sRGB encoding of a linear frame (H, W, 3) float32 into ``out`` uint8."""
    _encode_kernel(lin, ENCODE_U8, out)
    return out


@njit(cache=True)
def _encode_kernel(lin, table, out):
    h, w = lin.shape[:2]
    for y in range(h):
        for x in range(w):
            for c in range(3):
                out[y, x, c] = table[encode_index(lin[y, x, c])]


@njit(cache=True, error_model="numpy")
def _sensor_kernel(lin, vig, table, luma, dy, dx, flip, chroma, cy, cx, cy_index, cx_index, sigma, chroma_amp,
                   out):
    h, w = vig.shape
    for y in range(h):
        ly = dy + (h - 1 - y if flip else y)
        ry = cy + cy_index[y]
        for x in range(w):
            g = vig[y, x]
            s0 = table[encode_index(lin[y, x, 0] * g)]
            s1 = table[encode_index(lin[y, x, 1] * g)]
            s2 = table[encode_index(lin[y, x, 2] * g)]
            n_l = luma[ly, dx + x] * sigma[s1]
            rx = cx + cx_index[x]
            v0 = np.int64(s0) + np.int64(np.rint(chroma[ry, rx, 0] * chroma_amp + n_l))
            v1 = np.int64(s1) + np.int64(np.rint(chroma[ry, rx, 1] * chroma_amp + n_l))
            v2 = np.int64(s2) + np.int64(np.rint(chroma[ry, rx, 2] * chroma_amp + n_l))
            out[y, x, 0] = min(max(v0, 0), 255)
            out[y, x, 1] = min(max(v1, 0), 255)
            out[y, x, 2] = min(max(v2, 0), 255)
