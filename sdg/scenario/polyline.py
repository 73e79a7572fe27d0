"""2D polylines in the ground plane (world metres, CARLA axes: x forward/east, y right/south) and the few
constructors the layouts need: straight segments, circular arcs, and their concatenation.

Headings are radians measured from +x toward +y (CARLA yaw, converted to degrees only at the Scene boundary).
A vehicle driving along a polyline at arc length s sits at `point_at(s)` with heading `heading_at(s)`; the heading
is interpolated linearly between vertices (vertex headings are the mean of the adjacent segments), so poses sampled
along an arc turn smoothly instead of jumping at each vertex.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _unwrap(a: np.ndarray) -> np.ndarray:
    return np.unwrap(np.asarray(a, dtype=np.float64))


@dataclass(frozen=True)
class Polyline:
    """An open polyline of N >= 2 distinct points (N, 2), with arc lengths `s` (N,) starting at 0."""

    points: np.ndarray

    def __post_init__(self):
        p = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        if len(p) >= 2:
            keep = np.concatenate([[True], np.linalg.norm(np.diff(p, axis=0), axis=1) > 1e-9])
            p = p[keep]
        if len(p) < 2:
            raise ValueError("a polyline needs at least two distinct points")
        object.__setattr__(self, "points", p)
        seg = np.diff(p, axis=0)
        seglen = np.linalg.norm(seg, axis=1)
        object.__setattr__(self, "s", np.concatenate([[0.0], np.cumsum(seglen)]))
        seg_heading = _unwrap(np.arctan2(seg[:, 1], seg[:, 0]))
        vh = np.empty(len(p))
        vh[0], vh[-1] = seg_heading[0], seg_heading[-1]
        if len(p) > 2:
            vh[1:-1] = 0.5 * (seg_heading[:-1] + seg_heading[1:])
        object.__setattr__(self, "vertex_heading", vh)
        object.__setattr__(self, "segment_heading", seg_heading)

    @property
    def length(self) -> float:
        return float(self.s[-1])

    @property
    def start(self) -> np.ndarray:
        return self.points[0]

    @property
    def end(self) -> np.ndarray:
        return self.points[-1]

    def point_at(self, s) -> np.ndarray:
        """Points (..., 2) at arc lengths s; beyond the ends the end segments are extended straight."""
        s0 = np.asarray(s, dtype=np.float64)
        s = np.atleast_1d(s0).ravel()
        x = np.interp(s, self.s, self.points[:, 0])
        y = np.interp(s, self.s, self.points[:, 1])
        out = np.stack([x, y], axis=-1)
        before, after = s < 0.0, s > self.length
        if np.any(before):
            h = self.segment_heading[0]
            out[before] = self.points[0] + s[before][:, None] * np.array([np.cos(h), np.sin(h)])
        if np.any(after):
            h = self.segment_heading[-1]
            out[after] = self.points[-1] + (s[after] - self.length)[:, None] * np.array([np.cos(h), np.sin(h)])
        return out.reshape(s0.shape + (2,))

    def heading_at(self, s, blend: float = 0.5) -> np.ndarray:
        """Heading (radians, unwrapped along the line) at arc lengths s: the segment's own heading, blended
        linearly into the vertex heading (mean of the two segments) over the last/first `blend` metres (at most
        half the segment) before/after each vertex, so headings are continuous and straight runs stay straight."""
        s0 = np.asarray(s, dtype=np.float64)
        s = np.clip(np.atleast_1d(s0).ravel(), 0.0, self.length)
        seg = np.clip(np.searchsorted(self.s, s, side="right") - 1, 0, len(self.points) - 2)
        u = s - self.s[seg]
        L = self.s[seg + 1] - self.s[seg]
        b = np.minimum(blend, L / 2)
        h = self.segment_heading[seg].copy()
        a = u < b
        h[a] = self.vertex_heading[seg[a]] + (h[a] - self.vertex_heading[seg[a]]) * (u[a] / b[a])
        e = (L - u) < b
        h[e] = self.vertex_heading[seg[e] + 1] + (self.segment_heading[seg[e]] - self.vertex_heading[seg[e] + 1]) * (
            (L[e] - u[e]) / b[e])
        return h.reshape(s0.shape)

    def resampled(self, step: float) -> "Polyline":
        """The same curve through points every ~`step` metres (end points kept)."""
        n = max(2, int(np.ceil(self.length / step)) + 1)
        return Polyline(self.point_at(np.linspace(0.0, self.length, n)))

    def reversed(self) -> "Polyline":
        return Polyline(self.points[::-1].copy())

    def extended(self, before: float = 0.0, after: float = 0.0) -> "Polyline":
        """Extended straight along its end directions by `before` / `after` metres."""
        pts = [self.points]
        if before > 0:
            pts.insert(0, self.point_at(np.array([-before])))
        if after > 0:
            pts.append(self.point_at(np.array([self.length + after])))
        return Polyline(np.concatenate(pts))

    def project(self, xy) -> tuple[np.ndarray, np.ndarray]:
        """Closest-point projection of points (M, 2): (arc length s (M,), signed lateral offset (M,), positive to
        the right of the driving direction, i.e. toward +y when heading +x)."""
        q = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        a, b = self.points[:-1], self.points[1:]
        ab = b - a
        L2 = np.maximum((ab**2).sum(1), 1e-18)
        t = np.clip(((q[:, None, :] - a[None]) * ab[None]).sum(-1) / L2[None], 0.0, 1.0)
        proj = a[None] + t[..., None] * ab[None]
        d2 = ((q[:, None, :] - proj) ** 2).sum(-1)
        j = np.argmin(d2, axis=1)
        idx = np.arange(len(q))
        s = self.s[j] + t[idx, j] * np.sqrt(L2[j])
        rel = q - proj[idx, j]
        cross = ab[j, 0] * rel[:, 1] - ab[j, 1] * rel[:, 0]
        return s, np.sign(cross) * np.sqrt(d2[idx, j])

    def curvature(self) -> np.ndarray:
        """Unsigned curvature (1/m) at each vertex, from the heading change over the neighbouring segments."""
        k = np.zeros(len(self.points))
        if len(self.points) > 2:
            dh = np.abs(np.diff(self.segment_heading))
            ds = 0.5 * (np.diff(self.s)[:-1] + np.diff(self.s)[1:])
            k[1:-1] = dh / np.maximum(ds, 1e-9)
        return k


def line(p0, p1) -> np.ndarray:
    """Two points (2, 2)."""
    return np.array([p0, p1], dtype=np.float64)


def arc(center, radius: float, a0: float, a1: float, step: float = 0.25) -> np.ndarray:
    """Points on a circular arc from polar angle a0 to a1 (radians, measured from +x toward +y), ~`step` apart."""
    n = max(2, int(np.ceil(abs(a1 - a0) * radius / step)) + 1)
    a = np.linspace(a0, a1, n)
    return np.stack([center[0] + radius * np.cos(a), center[1] + radius * np.sin(a)], axis=1)


def join(*parts) -> Polyline:
    """Concatenate point arrays into one polyline (coincident joints are merged)."""
    return Polyline(np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1, 2) for p in parts]))


def turn(p0, h0: float, p1, h1: float, radius: float | None = None, step: float = 0.25) -> Polyline:
    """A path from p0 (heading h0) to p1 (heading h1, perpendicular to h0): straight, a circular arc tangent to
    both lines, straight. The arc's radius is `radius`, or the largest that fits if that is smaller (or None).
    Raises ValueError if the two lines do not meet in front of p0 and behind p1."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d0 = np.array([np.cos(h0), np.sin(h0)])
    d1 = np.array([np.cos(h1), np.sin(h1)])
    cr = d0[0] * d1[1] - d0[1] * d1[0]
    if abs(abs(cr) - 1.0) > 1e-6:
        raise ValueError("turn(): headings must be perpendicular")
    # corner where the two lines meet: p0 + a d0 = p1 - b d1
    m = np.array([d0, d1]).T
    a, b = np.linalg.solve(m, p1 - p0)
    if a <= 0 or b <= 0:
        raise ValueError("turn(): the lines meet behind the start or past the end")
    r = min(a, b) if radius is None else min(a, b, radius)
    corner = p0 + a * d0
    t0 = corner - r * d0  # arc start
    t1 = corner + r * d1  # arc end
    left = cr < 0  # turning toward -y side when heading +x (CARLA left-handed: right is +y)
    n0 = np.array([-d0[1], d0[0]]) * (-1.0 if left else 1.0)  # unit normal from t0 toward the centre
    c = t0 + r * n0
    a0 = np.arctan2(t0[1] - c[1], t0[0] - c[0])
    a1 = np.arctan2(t1[1] - c[1], t1[0] - c[0])
    da = (a1 - a0 + np.pi) % (2 * np.pi) - np.pi
    # straight parts densified too, so the interpolated heading only blends across `step` at the tangent points
    return join(densify(line(p0, t0), step), arc(c, r, a0, a0 + da, step), densify(line(t1, p1), step))


def densify(points, step: float) -> np.ndarray:
    """Points of a polyline with extra points so no segment is longer than `step`."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    out = [p[:1]]
    for a, b in zip(p[:-1], p[1:]):
        n = max(1, int(np.ceil(np.hypot(*(b - a)) / step)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.concatenate(out)


# ------------------------------------------------------------------------------- oriented rectangles (footprints)
def rect_corners(center, heading: float, length: float, width: float) -> np.ndarray:
    """(4, 2) corners of a footprint rectangle, counter-clockwise in (x, y)."""
    c, s = np.cos(heading), np.sin(heading)
    fx, fy = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
    ctr = np.asarray(center, float)
    return np.array([ctr + fx + fy, ctr + fx - fy, ctr - fx - fy, ctr - fx + fy])


def rects_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    """Separating-axis test of two convex quads (4, 2); `margin` > 0 demands that much clearance."""
    for poly in (a, b):
        for i in range(4):
            e = poly[(i + 1) % 4] - poly[i]
            n = np.array([-e[1], e[0]]) / (np.hypot(*e) + 1e-12)
            pa, pb = a @ n, b @ n
            if pa.max() + margin <= pb.min() or pb.max() + margin <= pa.min():
                return False
    return True


def point_rect_distance(points, centers, headings, half_lengths, half_widths) -> np.ndarray:
    """Euclidean distance from points (..., P, 2) to rectangles (K,) given by centre (K, 2), heading (K,),
    half extents (K,): returns (..., P, K); 0 inside."""
    p = np.asarray(points, float)[..., :, None, :]  # (..., P, 1, 2)
    d = p - np.asarray(centers, float)  # (..., P, K, 2)
    c, s = np.cos(headings), np.sin(headings)
    lx = np.abs(d[..., 0] * c + d[..., 1] * s) - half_lengths
    ly = np.abs(-d[..., 0] * s + d[..., 1] * c) - half_widths
    return np.hypot(np.maximum(lx, 0.0), np.maximum(ly, 0.0))
