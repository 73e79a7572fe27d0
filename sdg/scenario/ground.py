"""Painting the ground raster of a layout: world-space polygons rasterised with cv2.fillPoly into a tag image and
an albedo image (the `GroundMap` of sdg.scene), plus a seeded low-frequency texture so asphalt and grass are not
flat colours.

Raster convention (GroundMap): cell (iy, ix) covers x in [x0 + ix*res, x0 + (ix+1)*res), y likewise; a cell is
painted when its centre lies inside the polygon (cv2's rule with sub-pixel vertices).
"""
from __future__ import annotations

import cv2
import numpy as np

from sdg.scene import GroundMap
from sdg.tags import TAG

_SHIFT = 4  # cv2 sub-pixel bits for polygon vertices

# Base colours (sRGB uint8) of ground materials.
ASPHALT = (70, 70, 72)
LINE_WHITE = (228, 228, 222)
LINE_YELLOW = (222, 178, 44)
CONCRETE = (168, 163, 155)
KERB = (196, 194, 188)
GRASS = (86, 116, 56)
SOIL = (110, 96, 72)


class GroundPainter:
    """Accumulates tags and albedo over the rectangle [x0, x0 + nx*res) x [y0, y0 + ny*res)."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, resolution: float = 0.05,
                 tag: int = TAG["terrain"], color=GRASS):
        if resolution <= 0 or x1 <= x0 or y1 <= y0:
            raise ValueError(f"bad ground extent ({x0}, {y0})-({x1}, {y1}) at {resolution} m")
        self.x0, self.y0, self.res = float(x0), float(y0), float(resolution)
        self.nx = int(round((x1 - x0) / resolution))
        self.ny = int(round((y1 - y0) / resolution))
        self.tags = np.full((self.ny, self.nx), tag, np.uint8)
        self.albedo = np.empty((self.ny, self.nx, 3), np.uint8)
        self.albedo[:] = np.array(color, np.uint8)
        # material id per cell, for the texture pass (0 = leave as is)
        self.material = np.zeros((self.ny, self.nx), np.uint8)

    def _px(self, pts) -> np.ndarray:
        p = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
        c = (p - [self.x0, self.y0]) / self.res - 0.5  # cv2 pixel centres sit on integer coordinates
        return np.round(c * (1 << _SHIFT)).astype(np.int32)

    def fill(self, polygons, tag: int, color, material: int = 0) -> None:
        """Fill world polygons (a (N, 2) array or a list of them) with a tag, colour and texture material."""
        if isinstance(polygons, np.ndarray) and polygons.ndim == 2:
            polygons = [polygons]
        for poly in polygons:  # one call per polygon: fillPoly XORs overlapping contours of one call
            pts = [self._px(poly)]
            cv2.fillPoly(self.tags, pts, int(tag), lineType=cv2.LINE_8, shift=_SHIFT)
            cv2.fillPoly(self.albedo, pts, tuple(int(c) for c in color), lineType=cv2.LINE_8, shift=_SHIFT)
            cv2.fillPoly(self.material, pts, int(material), lineType=cv2.LINE_8, shift=_SHIFT)

    def texture(self, seed: int, amplitude: dict[int, float], grain: float = 3.0) -> None:
        """Multiply the albedo of each material by (1 + a * smooth noise) plus fine grain of +-`grain` levels."""
        rng = np.random.default_rng(seed)
        coarse = rng.standard_normal((max(2, self.ny // 40), max(2, self.nx // 40))).astype(np.float32)
        smooth = cv2.resize(coarse, (self.nx, self.ny), interpolation=cv2.INTER_CUBIC)
        smooth /= max(float(np.abs(smooth).max()), 1e-6)
        gain = np.ones((self.ny, self.nx), np.float32)
        for mat, amp in amplitude.items():
            m = self.material == mat
            gain[m] += amp * smooth[m]
        fine = rng.integers(-int(grain), int(grain) + 1, size=(self.ny, self.nx), dtype=np.int16)
        alb = self.albedo.astype(np.float32) * gain[..., None] + fine[..., None]
        self.albedo = np.clip(alb, 0, 255).astype(np.uint8)

    def ground_map(self, outside_tag: int = TAG["terrain"], outside_albedo=GRASS) -> GroundMap:
        return GroundMap(x0=self.x0, y0=self.y0, resolution=self.res, tags=self.tags, albedo=self.albedo,
                         outside_tag=outside_tag, outside_albedo=tuple(int(c) for c in outside_albedo))


def rect(cx: float, cy: float, length: float, width: float, heading: float = 0.0) -> np.ndarray:
    """(4, 2) corners of a rectangle centred at (cx, cy), `length` along `heading` (radians), `width` across."""
    c, s = np.cos(heading), np.sin(heading)
    fx, fy = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
    ctr = np.array([cx, cy])
    return np.array([ctr + fx + fy, ctr + fx - fy, ctr - fx - fy, ctr - fx + fy])


def band(p0, p1, width: float) -> np.ndarray:
    """(4, 2) rectangle of `width` along the segment p0 -> p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-12) * width / 2
    return np.array([p0 + n, p1 + n, p1 - n, p0 - n])


def dashes(p0, p1, width: float, dash: float, gap: float, phase: float = 0.0) -> list[np.ndarray]:
    """Dashed line from p0 to p1: rectangles `dash` long separated by `gap`, starting `phase` metres in."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    L = float(np.hypot(*(p1 - p0)))
    u = (p1 - p0) / max(L, 1e-12)
    out, s = [], phase
    while s < L:
        e = min(s + dash, L)
        if e - s > 0.05:
            out.append(band(p0 + u * s, p0 + u * e, width))
        s += dash + gap
    return out
