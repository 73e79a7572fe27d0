"""Per-instance pixel statistics of an instance frame, tight boxes and outline polygons.

Pixel convention (sdg.geometry): pixel (u, v) covers [u, u+1) x [v, v+1); a mask spanning columns u0..u1 and rows
v0..v1 has the tight box [u0, v0, u1 + 1, v1 + 1]. Polygons follow the pixel EDGES (not the pixel centres), so a
single pixel (u, v) outlines as the unit square (u, v) (u+1, v) (u+1, v+1) (u, v+1).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numba import njit


@dataclass
class InstancePixels:
    """The pixels of one instance id in a frame: count, inclusive extents and the coordinates."""

    count: int
    u0: int
    v0: int
    u1: int  # inclusive
    v1: int  # inclusive
    rows: np.ndarray  # (count,) v of each pixel
    cols: np.ndarray  # (count,) u of each pixel

    @property
    def tight_box(self) -> list[float]:
        """[u0, v0, u1 + 1, v1 + 1] in continuous pixel coordinates."""
        return [float(self.u0), float(self.v0), float(self.u1 + 1), float(self.v1 + 1)]

    def crop(self) -> np.ndarray:
        """uint8 mask (v1 - v0 + 1, u1 - u0 + 1) of the instance over its tight box (1 inside)."""
        m = np.zeros((self.v1 - self.v0 + 1, self.u1 - self.u0 + 1), dtype=np.uint8)
        m[self.rows - self.v0, self.cols - self.u0] = 1
        return m


# Largest instance id handled by the counting pass (its per-id tables take 8 bytes per possible id); frames with
# larger ids use the sort-based grouping (same result, O(P log P)).
_DENSE_ID_LIMIT = 1 << 20


@njit(cache=True)
def _group_dense(flat, w, max_id):
    """Counting sort of the nonzero pixels of a flattened (H*W) instance frame by id (ids <= max_id).
    Returns (ids, starts, counts, rows, cols, bounds): ids ascending; rows/cols (P,) grouped by id, each group in
    raster order; bounds (N, 4) = u0, v0, u1, v1 inclusive."""
    counts_by_id = np.zeros(max_id + 1, np.int64)
    for i in range(flat.shape[0]):
        counts_by_id[flat[i]] += 1
    n = 0
    for a in range(1, max_id + 1):
        if counts_by_id[a] > 0:
            n += 1
    ids = np.empty(n, np.int64)
    starts = np.empty(n, np.int64)
    counts = np.empty(n, np.int64)
    slot_of = np.full(max_id + 1, -1, np.int64)
    s = 0
    j = 0
    for a in range(1, max_id + 1):
        c = counts_by_id[a]
        if c > 0:
            ids[j] = a
            starts[j] = s
            counts[j] = c
            slot_of[a] = j
            s += c
            j += 1
    rows = np.empty(s, np.int64)
    cols = np.empty(s, np.int64)
    fill = starts.copy()
    bounds = np.empty((n, 4), np.int64)
    for j in range(n):
        bounds[j, 0] = w
        bounds[j, 1] = flat.shape[0]
        bounds[j, 2] = -1
        bounds[j, 3] = -1
    for i in range(flat.shape[0]):
        a = flat[i]
        if a == 0:
            continue
        j = slot_of[a]
        r = i // w
        q = i - r * w
        rows[fill[j]] = r
        cols[fill[j]] = q
        fill[j] += 1
        if q < bounds[j, 0]:
            bounds[j, 0] = q
        if q > bounds[j, 2]:
            bounds[j, 2] = q
        if bounds[j, 3] < 0:
            bounds[j, 1] = r  # raster order: the first pixel has the smallest row
        bounds[j, 3] = r  # ... and the last the largest
    return ids, starts, counts, rows, cols, bounds


def index_instances(instance: np.ndarray) -> dict[int, InstancePixels]:
    """Group the nonzero pixels of an (H, W) instance frame by id, ids ascending, each id's pixels in raster order.
    One counting pass for ids up to _DENSE_ID_LIMIT (O(H W)), a sort otherwise (O(P log P) for P actor pixels)."""
    if instance.ndim != 2:
        raise ValueError(f"index_instances: expected an (H, W) instance frame, got shape {instance.shape}")
    h, w = instance.shape
    flat = instance.ravel()
    if flat.size == 0:
        return {}
    if np.issubdtype(flat.dtype, np.integer) and flat.dtype.itemsize <= 4:
        hi = int(flat.max())
        lo = int(flat.min()) if np.issubdtype(flat.dtype, np.signedinteger) else 0
        if lo >= 0 and hi <= _DENSE_ID_LIMIT:
            if hi == 0:
                return {}
            ids, starts, counts, rows_all, cols_all, b = _group_dense(flat, w, hi)
            return {
                int(i): InstancePixels(int(c), int(bb[0]), int(bb[1]), int(bb[2]), int(bb[3]),
                                       rows_all[s : s + c], cols_all[s : s + c])
                for i, s, c, bb in zip(ids.tolist(), starts.tolist(), counts.tolist(), b.tolist())
            }
    return _index_instances_sorted(flat, w)


def _index_instances_sorted(flat: np.ndarray, w: int) -> dict[int, InstancePixels]:
    """index_instances by a stable sort of the nonzero pixels (any id range, any integer dtype)."""
    pos = np.flatnonzero(flat)
    if pos.size == 0:
        return {}
    ids = flat[pos]
    order = np.argsort(ids, kind="stable")
    ids, pos = ids[order], pos[order]
    uniq, starts, counts = np.unique(ids, return_index=True, return_counts=True)
    rows_all, cols_all = np.divmod(pos, w)
    out: dict[int, InstancePixels] = {}
    for i, s, c in zip(uniq.tolist(), starts.tolist(), counts.tolist()):
        r, q = rows_all[s : s + c], cols_all[s : s + c]
        out[int(i)] = InstancePixels(int(c), int(q.min()), int(r.min()), int(q.max()), int(r.max()), r, q)
    return out


def mask_polygons(mask: np.ndarray, offset: tuple[float, float] = (0.0, 0.0),
                  tolerance: float = 1.0) -> list[list[float]]:
    """Outer contours of a binary mask as flat polygons [x1, y1, x2, y2, ...] along pixel edges, simplified with
    Douglas-Peucker within `tolerance` pixels; `offset` (u, v) is added (the crop's origin in the image).

    Method: the mask is lifted onto a (2h+1, 2w+1) cell complex whose odd/odd cells are the pixels and even cells
    their edges and corners; the closure of the mask (pixels + their edges + corners) is traced with
    cv2.findContours, so contour points at even indices j lie exactly on pixel edges at coordinate j / 2. (At inner
    staircase corners the 8-connected tracer may cut a quarter-pixel diagonal, well inside the tolerance.)
    """
    m = np.asarray(mask).astype(bool)
    if m.ndim != 2:
        raise ValueError(f"mask_polygons: expected a 2-D mask, got shape {m.shape}")
    if not m.any():
        return []
    h, w = m.shape
    cells = np.zeros((2 * h + 3, 2 * w + 3), dtype=np.uint8)  # one extra cell of padding on every side
    cells[2:-1:2, 2:-1:2] = m
    cells = cv2.dilate(cells, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(cells, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys: list[list[float]] = []
    for c in contours:
        if tolerance > 0:
            simple = cv2.approxPolyDP(c, 2.0 * float(tolerance), True)
            c = simple if len(simple) >= 3 else c  # never collapse a tiny shape
        pts = c.reshape(-1, 2).astype(np.float64)
        if len(pts) < 3:
            continue
        pts = (pts - 1.0) / 2.0 + np.asarray(offset, dtype=np.float64)
        polys.append([float(x) for x in pts.ravel()])
    return polys


def rasterize_polygons(polygons: list[list[float]], height: int, width: int) -> np.ndarray:
    """Bool (height, width) mask of the pixels whose CENTRE (u + 0.5, v + 0.5) lies inside the polygons (even-odd
    rule per polygon, union over polygons). Exact scanline fill, the inverse of mask_polygons up to its tolerance.
    (cv2.fillPoly is not used: it also sets pixels the outline merely touches.)"""
    out = np.zeros((height, width), dtype=bool)
    centres_u = np.arange(width, dtype=np.float64) + 0.5
    for p in polygons:
        pts = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        if len(pts) < 3:
            continue
        a, b = pts, np.roll(pts, -1, axis=0)
        lo, hi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
        v_from = max(int(np.floor(lo.min() - 0.5)), 0)
        v_to = min(int(np.ceil(hi.max() + 0.5)), height)
        for v in range(v_from, v_to):
            y = v + 0.5
            e = (lo <= y) & (hi > y)  # half-open in y: a vertex on the scanline counts once
            if not e.any():
                continue
            ya, yb, xa, xb = a[e, 1], b[e, 1], a[e, 0], b[e, 0]
            xs = np.sort(xa + (y - ya) * (xb - xa) / (yb - ya))
            for x0, x1 in zip(xs[0::2], xs[1::2]):
                out[v] |= (centres_u >= x0) & (centres_u < x1)
    return out
