"""Projection of 3D boxes into the image, with near-plane clipping.

Conventions (sdg.geometry): pixel (u, v) has its centre at (u + 0.5, v + 0.5); the image spans the continuous
rectangle [0, W] x [0, H]. A box partly behind the camera is clipped against the plane z = NEAR (OpenCV camera frame,
metres) before projecting, so its image-plane outline is exact (a convex polygon) instead of the garbage that
projecting a point behind the camera gives.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdg.geometry import Camera, box_corners

NEAR = 0.01  # metres: the near plane used to clip boxes before projection

# The 12 edges of a box_corners() box: corner index = 4*ix + 2*iy + iz, an edge joins indices differing in one bit.
_BOX_EDGES = np.array([(i, i ^ b) for i in range(8) for b in (1, 2, 4) if i < i ^ b], dtype=np.int64)


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Convex hull of (N, 2) points (Andrew's monotone chain), float64, counter-clockwise in a y-up frame (i.e.
    clockwise on screen with v pointing down). Collinear points are dropped. Returns (K, 2), K may be < 3 for
    degenerate input."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    # distinct points in lexicographic (u, v) order (what np.unique(axis=0) gives, without its overhead), then the
    # monotone chain on plain floats (the same IEEE double arithmetic as on numpy scalars)
    pts: list[tuple[float, float]] = []
    for p in sorted(map(tuple, arr.tolist())):
        if not pts or p != pts[-1]:
            pts.append(p)
    if len(pts) < 3:
        return np.array(pts, dtype=np.float64).reshape(-1, 2)

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1], dtype=np.float64)


@dataclass
class ProjectedBox:
    """A 3D box seen by a camera.

    corners_world (8, 3); uv (8, 2) projected corners (NaN for corners with depth <= NEAR); depth (8,) planar depth
    of the corners; hull (K, 2) the convex outline in the image plane of the part of the box in front of the near
    plane (empty (0, 2) when the whole box is behind it).
    """

    corners_world: np.ndarray
    uv: np.ndarray
    depth: np.ndarray
    hull: np.ndarray

    @property
    def visible_side(self) -> bool:
        """True when some part of the box lies in front of the near plane."""
        return len(self.hull) >= 3

    def bounds(self) -> tuple[float, float, float, float] | None:
        """Unclipped (u_min, v_min, u_max, v_max) of the outline, or None when nothing is in front."""
        if not self.visible_side:
            return None
        lo, hi = self.hull.min(axis=0), self.hull.max(axis=0)
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def amodal_box(self, width: int, height: int) -> list[float] | None:
        """The outline's bounding box clipped to the image [0, W] x [0, H]; None when nothing is in front."""
        b = self.bounds()
        if b is None:
            return None
        clip = lambda x, hi: float(min(max(x, 0.0), hi))  # noqa: E731 (np.clip on a scalar, without its overhead)
        return [clip(b[0], width), clip(b[1], height), clip(b[2], width), clip(b[3], height)]

    def intersects_image(self, width: int, height: int) -> bool:
        """Exact test (separating axes) whether the outline overlaps the open image rectangle (0, W) x (0, H)."""
        b = self.bounds()
        if b is None or b[2] <= 0 or b[3] <= 0 or b[0] >= width or b[1] >= height:
            return False
        image = np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])
        hull = self.hull
        centroid = hull.mean(axis=0)
        for i in range(len(hull)):
            p, q = hull[i], hull[(i + 1) % len(hull)]
            normal = np.array([q[1] - p[1], p[0] - q[0]])
            if np.dot(centroid - p, normal) > 0:  # make the normal point away from the polygon
                normal = -normal
            if np.all((image - p) @ normal >= 0):
                return False
        return True


def project_box(camera: Camera, size, center, rotation, near: float = NEAR) -> ProjectedBox:
    """Project a box of full extents `size` (m) centred at world `center` with (roll, pitch, yaw) `rotation` (deg)."""
    corners = box_corners(size, center, rotation)
    pc = camera.to_camera(corners)
    z = pc[:, 2]
    f, cx, cy = camera.focal, camera.width / 2.0, camera.height / 2.0
    front = z > near
    uv = np.full((8, 2), np.nan)
    uv[front, 0] = f * pc[front, 0] / z[front] + cx
    uv[front, 1] = f * pc[front, 1] / z[front] + cy
    if not front.any():
        return ProjectedBox(corners, uv, z, np.zeros((0, 2)))
    # vertices of box ∩ {z >= near}: corners in front + edge/plane intersections
    pts = [pc[front]]
    a, b = _BOX_EDGES[:, 0], _BOX_EDGES[:, 1]
    crossing = (z[a] > near) != (z[b] > near)
    if crossing.any():
        za, zb = z[a[crossing]], z[b[crossing]]
        s = (near - za) / (zb - za)
        pts.append(pc[a[crossing]] + s[:, None] * (pc[b[crossing]] - pc[a[crossing]]))
    p = np.concatenate(pts, axis=0)
    zz = np.maximum(p[:, 2], near)
    proj = np.stack([f * p[:, 0] / zz + cx, f * p[:, 1] / zz + cy], axis=1)
    return ProjectedBox(corners, uv, z, convex_hull(proj))


def points_in_convex(hull: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean array: which points (u, v) (same shapes) lie inside or on the convex polygon `hull` (as returned by
    convex_hull). A hull with fewer than 3 vertices contains nothing."""
    inside = np.ones(np.broadcast(u, v).shape, dtype=bool)
    if len(hull) < 3:
        return np.zeros_like(inside)
    for i in range(len(hull)):
        p, q = hull[i], hull[(i + 1) % len(hull)]
        # convex_hull is counter-clockwise in (u, v) taken as a y-up frame: inside is to the left (cross >= 0)
        inside &= (q[0] - p[0]) * (v - p[1]) - (q[1] - p[1]) * (u - p[0]) >= 0
    return inside
