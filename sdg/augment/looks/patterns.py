"""Seeded patterns: an integer hash to uniform [0, 1) and low-frequency value noise (puddles, snow patches)."""
from __future__ import annotations

import cv2
import numpy as np


def hash01(*keys: np.ndarray, seed: int) -> np.ndarray:
    """Deterministic uniform [0, 1) from integer arrays (splitmix64-style mixing)."""
    with np.errstate(over="ignore"):
        h = np.full(np.shape(keys[0]), np.uint64(seed & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for k in keys:
            h = h ^ (np.asarray(k).astype(np.int64).astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
                     + (h << np.uint64(6)) + (h >> np.uint64(2)))
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def smooth_noise(shape: tuple[int, int], cells: int, seed: int) -> np.ndarray:
    """Low-frequency value noise in [0, 1], (H, W) float32, about ``cells`` blobs across the width."""
    h, w = shape
    gw = max(cells, 2)
    gh = max(round(cells * h / w), 2)
    g = np.random.default_rng(seed).random((gh + 1, gw + 1)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
