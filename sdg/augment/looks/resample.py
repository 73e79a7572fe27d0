"""Resampling between the looks' working resolutions, matching OpenCV's ``cv2.resize``: bilinear tables
(INTER_LINEAR, pixel centres aligned, edge replicated) and nearest-neighbour tables (INTER_NEAREST), so a kernel
can sample a low-resolution map at full resolution on the fly (``bilerp``) instead of materialising the resized
image."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit


class LinearTables(NamedTuple):
    """Per destination row / column: the two source indices and the weight of the second."""

    y0: np.ndarray
    y1: np.ndarray
    wy: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    wx: np.ndarray


_NONE_I, _NONE_F = np.zeros(1, np.int64), np.zeros(1, np.float32)
NO_TABLES = LinearTables(_NONE_I, _NONE_I, _NONE_F, _NONE_I, _NONE_I, _NONE_F)  # placeholder for an unused map


def _linear_axis(src: int, dst: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    i = np.floor(f).astype(np.int64)
    w = (f - i).astype(np.float32)
    w[i < 0] = 0.0
    i[i < 0] = 0
    last = i >= src - 1
    w[last] = 0.0
    i[last] = src - 1
    return i, np.minimum(i + 1, src - 1), w


def linear_tables(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> LinearTables:
    """Tables to sample an image of size ``src_hw`` bilinearly at the pixels of ``dst_hw`` (as cv2 INTER_LINEAR)."""
    return LinearTables(*_linear_axis(src_hw[0], dst_hw[0]), *_linear_axis(src_hw[1], dst_hw[1]))


def nearest_index(src: int, dst: int) -> np.ndarray:
    """(dst,) source index of each destination index along one axis, as cv2 INTER_NEAREST."""
    scale = 1.0 / (dst / src)
    return np.minimum(np.floor(np.arange(dst) * scale).astype(np.int64), src - 1)


@njit(cache=True)
def bilerp(a00, a01, a10, a11, wy, wx):
    """Bilinear blend of four float32 samples (rows 0/1, columns 0/1) with the weights of the second row / column,
    in cv2's order (horizontal first)."""
    one = np.float32(1.0)
    return (a00 * (one - wx) + a01 * wx) * (one - wy) + (a10 * (one - wx) + a11 * wx) * wy


def widen(img: np.ndarray, t: LinearTables) -> np.ndarray:
    """The horizontal half of the bilinear upsampling: each source row of an (h, w, 3) float32 image resampled to
    the destination width, (h, W, 3). A kernel then needs only ``vblend`` of two of its rows per pixel (cv2's
    order: horizontal first, so the result equals ``bilerp`` of the four samples)."""
    out = np.empty((img.shape[0], t.x0.size, 3), np.float32)
    _widen(img, t.x0, t.x1, t.wx, out)
    return out


@njit(cache=True)
def _widen(img, x0, x1, wx, out):
    one = np.float32(1.0)
    for y in range(img.shape[0]):
        for x in range(x0.size):
            a, b, w = x0[x], x1[x], wx[x]
            for c in range(3):
                out[y, x, c] = img[y, a, c] * (one - w) + img[y, b, c] * w


@njit(cache=True)
def vblend(a, b, wy):
    """The vertical half of ``bilerp``: two horizontally resampled samples blended by the weight of the second."""
    return a * (np.float32(1.0) - wy) + b * wy
