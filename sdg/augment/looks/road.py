"""Wet road (tags 1, 24): asphalt darkened by the water film and planar mirror reflections of the scene above the
road plane, weighted by Schlick's Fresnel term at the pixel's grazing angle and a seeded puddle pattern; snow
cover keeps its share dry.

Per clip: the puddle pattern and the Fresnel term. Per frame: the reflection, forward-splatted at half resolution
through the fitted road plane (numba z-buffer: the nearest mirrored point wins), then one pass over the road
pixels that samples it bilinearly."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit

from sdg.augment.base import stable_seed
from sdg.augment.looks.geometry import ClipGeometry
from sdg.augment.looks.params import ROAD_LUT
from sdg.augment.looks.patterns import smooth_noise
from sdg.augment.looks.resample import LinearTables, bilerp, linear_tables

REFLECTION_STEP = 2  # reflections are splatted at 1/2 resolution
_EMPTY2 = np.zeros((1, 1), np.float32)


def puddles(shape: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W) 0.45..1 seeded low-frequency wetness pattern (screen space: the camera is static)."""
    n = smooth_noise(shape, 14, seed)
    return (0.45 + 0.55 * n ** 0.8).astype(np.float32)


def fresnel(geo: ClipGeometry) -> np.ndarray:
    """(H, W) Schlick reflectance of water (F0 = 0.02) at each pixel's grazing angle over the road plane."""
    out = np.empty(geo.elevation.shape, np.float32)
    _fresnel(geo.elevation, out)
    return out


@njit(cache=True)
def _fresnel(elevation, out):
    h, w = elevation.shape
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            c = one - abs(elevation[y, x])
            out[y, x] = np.float32(0.02) + np.float32(0.98) * (c * c * c * c * c)


def reflection(lin: np.ndarray, depth: np.ndarray, sem: np.ndarray, sky: np.ndarray, geo: ClipGeometry,
               airlight) -> np.ndarray:
    """Planar mirror image of the scene above the road plane at half resolution (h2, w2, 3), softened vertically
    (rippled water smears reflections); pixels no object reflects into show the environment colour (the sky's
    mean, else the airlight)."""
    step = REFLECTION_STEP
    oy, ox, ys, xs = geo.grid(step, depth.shape)
    h2, w2 = len(ys), len(xs)
    small = cv2.resize(lin, (w2, h2), interpolation=cv2.INTER_AREA)
    cov = np.zeros((h2, w2), np.float32)
    col = np.zeros((h2, w2, 3), np.float32)
    env = np.zeros(3, np.float64)
    hits = _mirror_splat(depth, sem, sky, step, oy, ox, ys, xs, geo.up.astype(np.float32),
                         np.float32(geo.cam_height), geo.focal / step, ROAD_LUT, small, cov, col, env)
    if np.isnan(env[0]):  # no sky in view
        env = np.asarray(airlight, np.float32) + 0.02
    env = env.astype(np.float32)
    if hits:
        k = (3, 15)  # taller than wide: rippled water smears reflections vertically
        refl = cv2.blur(col, k)
        _fill_reflection(refl, cv2.blur(cov, k), env)
    else:
        refl = np.empty_like(small)
        refl[:] = env
    return cv2.GaussianBlur(refl, (0, 0), sigmaX=0.8, sigmaY=1.6)


def wet_road(lin: np.ndarray, sem: np.ndarray, refl: np.ndarray, tables: LinearTables, wetness: float,
             puddle: np.ndarray, fres: np.ndarray, snow: np.ndarray | None) -> None:
    """In place on the road pixels: ``lin * (1 - 0.45 wet) * (1 - F) + 0.9 F reflection`` with wet = wetness x
    puddles (x (1 - snow cover)) and F = Fresnel x wet; ``refl`` at half resolution, sampled through ``tables``."""
    _wet_road(lin, sem, ROAD_LUT, refl, *tables, np.float32(wetness), puddle, fres,
              snow if snow is not None else _EMPTY2, snow is not None)


@dataclass
class WetRoad:
    """Per clip: the puddle pattern, the Fresnel term and the reflection's upsampling tables of a wet look."""

    geo: ClipGeometry
    wetness: float
    puddles: np.ndarray
    fresnel: np.ndarray
    tables: LinearTables

    @classmethod
    def of_clip(cls, geo: ClipGeometry, seed: int, wetness: float) -> WetRoad:
        _, _, ys, xs = geo.grid(REFLECTION_STEP, (geo.height, geo.width))
        return cls(geo, wetness, puddles((geo.height, geo.width), stable_seed(seed, "puddles")), fresnel(geo),
                   linear_tables((len(ys), len(xs)), (geo.height, geo.width)))

    def apply(self, lin: np.ndarray, depth: np.ndarray, sem: np.ndarray, sky: np.ndarray, airlight,
              snow: np.ndarray | None) -> None:
        """The wet road on one frame, in place (``snow``: the frame's snow cover, or None)."""
        refl = reflection(lin, depth, sem, sky, self.geo, airlight)
        wet_road(lin, sem, refl, self.tables, self.wetness, self.puddles, self.fresnel, snow)


@njit(cache=True, error_model="numpy")
def _mirror_splat(depth, sem, sky, step, oy, ox, ys, xs, up, cam_h, f2, road_lut, small, cov, col, env):
    """Mirror every non-road, non-sky point above the road plane through it and project it back (half-resolution
    grid); where it lands on road nearer than the road point, the nearest mirrored point (first in scan order on
    ties) writes its colour into ``col`` and 1 into ``cov``. ``env`` gets the mean colour of the sky samples (nan
    without). Returns the number of covered pixels."""
    h2, w2 = ys.size, xs.size
    zbuf = np.full((h2, w2), np.inf, np.float32)
    src = np.full((h2, w2), -1, np.int64)
    sky_sum = np.zeros(3, np.float64)
    sky_n = 0
    two, near, above = np.float32(2.0), np.float32(0.2), np.float32(0.05)
    half_w, half_h = np.float32(w2 / 2.0), np.float32(h2 / 2.0)
    f = np.float32(f2)
    for i in range(h2):
        for j in range(w2):
            yy, xx = oy + i * step, ox + j * step
            if sky[yy, xx]:
                for c in range(3):
                    sky_sum[c] += small[i, j, c]
                sky_n += 1
                continue
            if road_lut[sem[yy, xx]]:
                continue
            d = depth[yy, xx]
            px, py, pz = d * xs[j], d * ys[i], d
            height = px * up[0] + py * up[1] + pz * up[2] + cam_h
            if not height > above:
                continue
            k = two * height
            mx, my, mz = px - k * up[0], py - k * up[1], pz - k * up[2]
            if not mz > near:
                continue
            iu = int(np.floor(f * mx / mz + half_w))
            iv = int(np.floor(f * my / mz + half_h))
            if iu < 0 or iu >= w2 or iv < 0 or iv >= h2:
                continue
            if not road_lut[sem[oy + iv * step, ox + iu * step]] or not depth[oy + iv * step, ox + iu * step] < mz:
                continue
            if mz < zbuf[iv, iu]:
                zbuf[iv, iu] = mz
                src[iv, iu] = i * w2 + j
    hits = 0
    for i in range(h2):
        for j in range(w2):
            s = src[i, j]
            if s >= 0:
                cov[i, j] = 1.0
                for c in range(3):
                    col[i, j, c] = small[s // w2, s % w2, c]
                hits += 1
    for c in range(3):
        env[c] = sky_sum[c] / sky_n if sky_n else np.nan
    return hits


@njit(cache=True, error_model="numpy")
def _fill_reflection(colb, cb, env):
    """In place on the blurred mirrored colours: normalised by the blurred coverage (the mean colour of the
    mirrored points nearby), blended with the environment colour by the coverage (x 3, at most 1)."""
    h, w = cb.shape
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            c = cb[y, x]
            wgt = min(max(c * np.float32(3.0), np.float32(0.0)), one)
            inv = one / max(c, np.float32(1e-6))
            for k in range(3):
                colb[y, x, k] = env[k] * (one - wgt) + (colb[y, x, k] * inv) * wgt


@njit(cache=True, error_model="numpy")
def _wet_road(lin, sem, road_lut, refl, ty0, ty1, twy, tx0, tx1, twx, wetness, puddle, fres, snow, use_snow):
    h, w = sem.shape
    one = np.float32(1.0)
    for y in range(h):
        for x in range(w):
            if not road_lut[sem[y, x]]:
                continue
            wet = wetness * puddle[y, x]
            if use_snow:
                wet *= one - snow[y, x]
            f = fres[y, x] * wet
            k = (one - np.float32(0.45) * wet) * (one - f)
            kr = np.float32(0.9) * f
            y0, y1, wy, x0, x1, wx = ty0[y], ty1[y], twy[y], tx0[x], tx1[x], twx[x]
            for c in range(3):
                v = bilerp(refl[y0, x0, c], refl[y0, x1, c], refl[y1, x0, c], refl[y1, x1, c], wy, wx)
                lin[y, x, c] = lin[y, x, c] * k + v * kr
