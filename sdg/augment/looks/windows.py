"""Lit windows of the dusk and night looks: the windows painted on the facades (detected on the clip's static
background), else a procedural facade grid on bare walls; a seeded share of them lit, warm or cool, each with its
own brightness and a soft edge, hidden while a moving object passes in front."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from sdg.augment.base import stable_seed
from sdg.augment.looks.colour import linear_to_srgb
from sdg.augment.looks.geometry import ClipGeometry, normals_from_points
from sdg.augment.looks.params import BUILDING_TAG
from sdg.augment.looks.patterns import hash01


def detect_windows(lin: np.ndarray, depth: np.ndarray, sem: np.ndarray, focal: float) -> np.ndarray:
    """Window rectangles already painted on building facades (renderer textures, CARLA materials): building pixels
    whose colour departs (any channel) by > 20 % + 5 codes from the facade's local median (a median filter over
    building pixels only: every other pixel is replaced by a 0/255 checkerboard, which leaves the median of the
    building pixels in place),
    grouped into 4-connected components that are compact (>= 55 % of their box) and window-sized (0.4..4.5 m
    each way at their depth). Returns an int32 label image, 0 = not a window, 1..N = window."""
    return detect_windows_srgb(linear_to_srgb(lin), depth, sem, focal)


def detect_windows_srgb(srgb: np.ndarray, depth: np.ndarray, sem: np.ndarray, focal: float) -> np.ndarray:
    """detect_windows on the uint8 sRGB frame."""
    b = sem == BUILDING_TAG
    h, w = sem.shape
    labels_out = np.zeros((h, w), np.int32)
    if b.sum() < 200:
        return labels_out
    k = max(15, round(61 * w / 960.0)) | 1
    # the median filter only where it reaches building pixels: their bounding box plus the filter's reach
    rows, cols = np.nonzero(b.any(axis=1))[0], np.nonzero(b.any(axis=0))[0]
    r = k // 2
    y0, y1, x0, x1 = max(rows[0] - r, 0), min(rows[-1] + r + 1, h), max(cols[0] - r, 0), min(cols[-1] + r + 1, w)
    bc = b[y0:y1, x0:x1]
    srgb = np.clip(srgb[y0:y1, x0:x1], 1, 254)
    checker = ((np.arange(y0, y1)[:, None] + np.arange(x0, x1)[None, :]) % 2 * 255).astype(np.uint8)
    diff = np.zeros(bc.shape, np.float32)
    for c in range(3):
        ch = np.where(bc, srgb[..., c], checker).astype(np.uint8)
        ref = cv2.medianBlur(ch, k).astype(np.float32)
        diff = np.maximum(diff, np.abs(srgb[..., c].astype(np.float32) - ref) / (0.2 * ref + 5.0))
    cand = np.zeros((h, w), np.uint8)
    cand[y0:y1, x0:x1] = bc & (diff > 1.0)
    cand = cv2.morphologyEx(cand, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    n, labels, stats, cent = cv2.connectedComponentsWithStats(cand, connectivity=4)
    if n <= 1:
        return labels_out
    bw, bh, area = stats[:, 2].astype(np.float64), stats[:, 3].astype(np.float64), stats[:, 4].astype(np.float64)
    cu = np.clip(cent[:, 0].astype(np.int64), 0, w - 1)
    cv = np.clip(cent[:, 1].astype(np.int64), 0, h - 1)
    d = depth[cv, cu].astype(np.float64)
    wm, hm = bw * d / focal, bh * d / focal
    ok = (area >= 6) & (area >= 0.55 * bw * bh) & (wm > 0.4) & (wm < 4.5) & (hm > 0.4) & (hm < 4.5)
    ok[0] = False
    remap = np.zeros(n, np.int32)
    remap[ok] = np.arange(1, int(ok.sum()) + 1, dtype=np.int32)
    return remap[labels]


def facade_grid(depth: np.ndarray, sem: np.ndarray, geo: ClipGeometry) -> np.ndarray:
    """A procedural window grid for bare facades: 3.2 m x 3.4 m cells in facade coordinates (horizontal tangent from
    the depth normal, height above the road plane), window in the middle of each cell, none below 3 m.
    Returns an int64 key image, -1 = not a window, else a cell key stable for the clip."""
    h, w = sem.shape
    out = np.full((h, w), -1, np.int64)
    bv, bu = np.nonzero(sem == BUILDING_TAG)
    if bv.size == 0:
        return out
    d = depth[bv, bu].astype(np.float32)
    pts = np.stack([geo.xn[bu] * d, geo.yn[bv] * d, d], axis=1)
    nrm = normals_from_points(geo.points(depth, 2))
    n = nrm[np.minimum(bv // 2, nrm.shape[0] - 1), np.minimum(bu // 2, nrm.shape[1] - 1)]
    up = geo.up.astype(np.float32)
    vertical = np.abs(n @ up) < 0.35
    tang = np.cross(up[None, :], n)
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-6)
    tang = np.where(tang[:, :1] < 0, -tang, tang)
    hcoord = np.sum(pts * tang, axis=1)
    height = pts @ up + geo.cam_height
    offset = np.round(np.sum(pts * n, axis=1) / 2.0)
    azim = np.round(np.degrees(np.arctan2(n[:, 0], n[:, 2])) / 20.0)
    ix, iy = np.floor(hcoord / 3.2), np.floor(height / 3.4)
    fx, fy = hcoord / 3.2 - ix, height / 3.4 - iy
    inside = (fx > 0.22) & (fx < 0.78) & (fy > 0.28) & (fy < 0.8) & vertical & (height > 3.0)
    key = (hash01(ix, iy, azim, offset, seed=1) * (1 << 52)).astype(np.int64)
    out[bv[inside], bu[inside]] = key[inside]
    return out


@dataclass
class WindowLights:
    """Lit windows of a clip: pixel rows, columns, background depth there, linear emission (n, 3)."""

    vs: np.ndarray
    us: np.ndarray
    bg_depth: np.ndarray
    emission: np.ndarray

    @classmethod
    def of_background(cls, bg_rgb: np.ndarray, bg_sem: np.ndarray, bg_depth: np.ndarray, geo: ClipGeometry,
                      seed: int, fraction: float) -> WindowLights:
        """Windows come from the facades' own texture when at least 4 are found, else from a procedural facade
        grid; each is lit with probability ``fraction`` (seeded), warm or cool, with its own brightness and a soft
        edge. ``bg_depth`` cleaned."""
        labels = detect_windows_srgb(bg_rgb, bg_depth, bg_sem, geo.focal)  # sRGB -> linear -> sRGB is exact
        if labels.max() >= 4:
            keys = labels.astype(np.int64)
            keys[labels == 0] = -1
        else:
            keys = facade_grid(bg_depth, bg_sem, geo)
        mask = keys >= 0
        # soft edge: distance to the window border
        dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
        vs, us = np.nonzero(mask)
        k = keys[vs, us]
        wseed = stable_seed(seed, "windows")
        on = hash01(k, seed=wseed)
        lit = on < fraction
        vs, us, k, on = vs[lit], us[lit], k[lit], on[lit]
        shade = hash01(k, seed=wseed + 1)
        warm = np.array([1.0, 0.62, 0.28], dtype=np.float32)
        cool = np.array([0.62, 0.75, 1.0], dtype=np.float32)
        col = np.where((shade < 0.8)[:, None], warm, cool)
        amp = 0.06 + 0.16 * (on / max(fraction, 1e-6))
        soft = np.clip(dist[vs, us] / 1.5, 0.35, 1.0)
        emission = (amp * soft)[:, None] * col
        return cls(vs, us, bg_depth[vs, us], emission.astype(np.float32))

    def add(self, lin: np.ndarray, depth: np.ndarray, gain: float) -> None:
        """Add the windows not hidden by a passing object (frame depth = background depth) to ``lin``, in place."""
        if self.vs.size == 0:
            return
        bgd = self.bg_depth
        visible = np.abs(depth[self.vs, self.us] - bgd) <= 0.02 * bgd + 0.05
        lin[self.vs[visible], self.us[visible]] += self.emission[visible] * np.float32(gain)
