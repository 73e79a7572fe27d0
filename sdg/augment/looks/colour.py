"""Colour: sRGB <-> linear through look-up tables, Rec. 709 luminance.

The numpy functions work on whole arrays; the ``*_px`` helpers are their per-pixel numba twins, inlined into the
looks' kernels (same float32 arithmetic, so a kernel and its numpy description agree to the last bit or so).
"""
from __future__ import annotations

import cv2
import numpy as np
from numba import njit

# sRGB <-> linear tables
_CODES = np.arange(256) / 255.0
DECODE = np.where(_CODES <= 0.04045, _CODES / 12.92, ((_CODES + 0.055) / 1.055) ** 2.4).astype(np.float32)
ENC_LEVELS = 16384
_LV = np.arange(ENC_LEVELS, dtype=np.float64) / (ENC_LEVELS - 1)
ENCODE_U8 = np.clip(np.rint(255.0 * np.where(_LV <= 0.0031308, _LV * 12.92, 1.055 * _LV ** (1 / 2.4) - 0.055)), 0,
                    255).astype(np.uint8)
LUMA = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)


def decode_pow_table(power: float) -> np.ndarray:
    """(256,) float32 ``DECODE ** power``: a gamma on linear light straight from the sRGB code."""
    return (DECODE.astype(np.float64) ** power).astype(np.float32)


def rgb32(v) -> tuple:
    """A colour (or any 3-vector) as a tuple of three float32: how the kernels take colours and tints."""
    return tuple(np.float32(x) for x in np.asarray(v, np.float32))


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB (…, 3) -> float32 linear 0..1 (exact sRGB transfer function)."""
    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim == 3 and rgb.dtype == np.uint8:
        return cv2.LUT(rgb, DECODE)
    return DECODE[rgb]


def _encode_index(lin: np.ndarray) -> np.ndarray:
    x = np.clip(lin, 0.0, 1.0) * np.float32(ENC_LEVELS - 1) + np.float32(0.5)
    return x.astype(np.uint16)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """float linear (…) -> uint8 sRGB, through a 16384-level table (error < 0.5 code + table step)."""
    return ENCODE_U8[_encode_index(lin)]


def luminance(lin: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance of linear RGB (…, 3) -> (…)."""
    return lin @ LUMA


# ------------------------------------------------------------------------------------------- per-pixel (numba)
@njit(cache=True)
def luminance_px(r, g, b):
    """Rec. 709 luminance of one linear pixel (float32 in, float32 out)."""
    return r * np.float32(0.2126) + g * np.float32(0.7152) + b * np.float32(0.0722)


@njit(cache=True)
def encode_index(x):
    """Index into ``ENCODE_U8`` of one linear float32 value, as ``linear_to_srgb`` (scalar only, so it inlines)."""
    if not x > np.float32(0.0):  # also nan, as numpy's cast of the clipped nan
        return 0
    if x >= np.float32(1.0):
        return ENC_LEVELS - 1
    return np.int64(x * np.float32(ENC_LEVELS - 1) + np.float32(0.5))
