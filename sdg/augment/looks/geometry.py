"""Per-clip camera geometry of the looks: pinhole rays, the fitted road plane, camera-frame points and normals
from planar depth, the static background of a static-camera clip, and the per-frame depth clean-up."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sdg.augment.looks.params import ROAD_LUT, SKY_TAG
from sdg.geometry import SKY_DEPTH

NEAR_DEPTH = 0.05  # metres: depth is clipped to [NEAR_DEPTH, SKY_DEPTH]


@dataclass
class ClipGeometry:
    """Per-clip constants: pinhole rays and the fitted road plane, camera (OpenCV) coordinates."""

    width: int
    height: int
    focal: float  # pixels
    xn: np.ndarray  # (W,) (u + 0.5 - W/2) / f
    yn: np.ndarray  # (H,)
    ray_len: np.ndarray  # (H, W) metres along the ray per metre of planar depth
    up: np.ndarray  # (3,) unit up vector (road plane normal, towards the camera side)
    cam_height: float  # metres of the camera above the road plane
    elevation: np.ndarray  # (H, W) sin of the ray's angle above the road plane's horizon
    plane_fitted: bool

    def grid(self, step: int, shape: tuple[int, int]) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Sampling of a (H, W) image every ``step`` pixels: offsets (oy, ox) and float32 normalised ray
        coordinates (ys, xs) of the sampled rows and columns."""
        h, w = shape
        oy, ox = min(step // 2, h - 1), min(step // 2, w - 1)
        nh, nw = len(range(oy, h, step)), len(range(ox, w, step))
        xs = ((np.arange(nw) * step + ox + 0.5 - self.width / 2.0) / self.focal).astype(np.float32)
        ys = ((np.arange(nh) * step + oy + 0.5 - self.height / 2.0) / self.focal).astype(np.float32)
        return oy, ox, ys, xs

    def points(self, depth: np.ndarray, step: int = 1) -> np.ndarray:
        """(h, w, 3) float32 camera-frame points of a planar-depth image sampled every ``step`` pixels."""
        oy, ox, ys, xs = self.grid(step, depth.shape)
        out = np.empty((len(ys), len(xs), 3), np.float32)
        _points(np.ascontiguousarray(depth, dtype=np.float32), step, oy, ox, ys, xs, out)
        return out

    def normals(self, depth: np.ndarray, step: int = 1) -> np.ndarray:
        """(h, w, 3) float32 camera-facing normals of the points (see points and normals_from_points)."""
        return normals_from_points(self.points(depth, step))


def fit_road_plane(depth: np.ndarray, semantic: np.ndarray, focal: float, max_points: int = 4000
                   ) -> tuple[np.ndarray, float] | None:
    """Least-squares plane through the road pixels of one frame (two passes, the second without outliers > 0.15 m).
    Returns (unit up normal in camera coordinates, camera height in metres) or None with < 200 usable pixels."""
    h, w = depth.shape
    vs, us = _road_pixels(np.ascontiguousarray(depth), np.ascontiguousarray(semantic), ROAD_LUT)
    if len(vs) < 200:
        return None
    if len(vs) > max_points:
        pick = np.linspace(0, len(vs) - 1, max_points).astype(np.int64)
        vs, us = vs[pick], us[pick]
    d = depth[vs, us].astype(np.float64)
    p = np.stack([(us + 0.5 - w / 2.0) / focal * d, (vs + 0.5 - h / 2.0) / focal * d, d], axis=1)
    for _ in range(2):
        c = p.mean(axis=0)
        _, _, vt = np.linalg.svd(p - c, full_matrices=False)
        n = vt[2]
        if np.dot(n, -c) < 0:  # point from the road towards the camera
            n = -n
        res = (p - c) @ n
        keep = np.abs(res) < 0.15
        if keep.sum() < 100:
            break
        p = p[keep]
    c = p.mean(axis=0)
    height = float(np.dot(n, -c))
    if height <= 0.05 or n[1] > -0.2:  # camera under the road or the "road" is a wall: not a usable plane
        return None
    return n / np.linalg.norm(n), height


def clip_geometry(depth: np.ndarray, semantic: np.ndarray, fov: float) -> ClipGeometry:
    """Rays for a (T,H,W) clip and its road plane (first frame with enough road; else level camera at 1.7 m)."""
    _, h, w = depth.shape
    f = w / (2.0 * np.tan(np.radians(fov) / 2.0))
    xn = (np.arange(w) + 0.5 - w / 2.0) / f
    yn = (np.arange(h) + 0.5 - h / 2.0) / f
    plane = None
    for t in range(depth.shape[0]):
        plane = fit_road_plane(depth[t], semantic[t], f)
        if plane is not None:
            break
    fitted = plane is not None
    up, cam_h = plane if fitted else (np.array([0.0, -1.0, 0.0]), 1.7)
    ray_len = np.empty((h, w), np.float32)
    elevation = np.empty((h, w), np.float32)
    _rays(xn, yn, np.asarray(up, np.float64), ray_len, elevation)
    return ClipGeometry(w, h, float(f), xn.astype(np.float32), yn.astype(np.float32), ray_len,
                        np.asarray(up, dtype=np.float64), float(cam_h), elevation, fitted)


def normals_from_points(p: np.ndarray) -> np.ndarray:
    """(h, w, 3) unit normals of a camera-frame point image, facing the camera. At each pixel the horizontal and
    vertical differences are taken towards the neighbour with the smaller depth jump, so normals do not smear
    across depth discontinuities."""
    out = np.empty(p.shape, np.float32)
    _normals(np.ascontiguousarray(p, dtype=np.float32), out)
    return out


def background_frame(depth: np.ndarray, *arrays: np.ndarray) -> list[np.ndarray]:
    """The static scenery of a static-camera clip: per pixel, the frame where the depth is largest (moving things
    are in front of the background; the first such frame on ties). Returns [depth_bg, *arrays_bg], each one
    frame."""
    depth = np.ascontiguousarray(depth)
    idx = _deepest_frame(depth)
    out = []
    for a in (depth, *arrays):
        a = np.ascontiguousarray(a)
        flat = a.reshape(a.shape[:3] + (-1,))
        bg = np.empty(flat.shape[1:], a.dtype)
        _gather_frames(flat, idx, bg)
        out.append(bg.reshape(a.shape[1:]))
    return out


def clean_depth(depth: np.ndarray) -> np.ndarray:
    """float32 copy of a planar depth image with nan / +inf -> SKY_DEPTH, clipped to [NEAR_DEPTH, SKY_DEPTH]."""
    out = np.empty(depth.shape, np.float32)
    _clean_depth(np.ascontiguousarray(depth), out)
    return out


def frame_depth_sky(depth: np.ndarray, semantic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame's cleaned depth (see clean_depth) and its sky mask (sky tag, or at the far plane)."""
    d = np.empty(depth.shape, np.float32)
    sky = np.empty(depth.shape, np.bool_)
    _depth_sky(np.ascontiguousarray(depth), np.ascontiguousarray(semantic), d, sky)
    return d, sky


# ------------------------------------------------------------------------------------------------- kernels
@njit(cache=True)
def _clean(x):
    if np.isnan(x) or x == np.inf:
        x = SKY_DEPTH
    return np.float32(min(max(x, NEAR_DEPTH), SKY_DEPTH))


@njit(cache=True)
def _clean_depth(depth, out):
    flat, o = depth.ravel(), out.ravel()
    for i in range(flat.size):
        o[i] = _clean(flat[i])


@njit(cache=True)
def _depth_sky(depth, sem, out, sky):
    far = np.float32(0.99 * SKY_DEPTH)
    h, w = depth.shape
    for y in range(h):
        for x in range(w):
            d = _clean(depth[y, x])
            out[y, x] = d
            sky[y, x] = sem[y, x] == SKY_TAG or d >= far


@njit(cache=True)
def _points(depth, step, oy, ox, ys, xs, out):
    for i in range(ys.size):
        for j in range(xs.size):
            d = depth[oy + i * step, ox + j * step]
            out[i, j, 0] = d * xs[j]
            out[i, j, 1] = d * ys[i]
            out[i, j, 2] = d


@njit(cache=True)
def _normals(p, out):
    h, w = p.shape[:2]
    if h < 2 or w < 2:  # no neighbours: face the camera
        for i in range(h):
            for j in range(w):
                out[i, j, 0] = 0.0
                out[i, j, 1] = 0.0
                out[i, j, 2] = -1.0
        return
    for i in range(h):
        i_f = i if i < h - 1 else h - 2  # forward difference rows (the last row repeats the one before)
        i_b = i - 1 if i > 0 else 0  # backward difference = the previous row's forward difference
        for j in range(w):
            j_f = j if j < w - 1 else w - 2
            j_b = j - 1 if j > 0 else 0
            # horizontal and vertical differences, each towards the neighbour with the smaller depth jump
            j0 = j_f if abs(p[i, j_f + 1, 2] - p[i, j_f, 2]) <= abs(p[i, j_b + 1, 2] - p[i, j_b, 2]) else j_b
            ux, uy, uz = p[i, j0 + 1, 0] - p[i, j0, 0], p[i, j0 + 1, 1] - p[i, j0, 1], p[i, j0 + 1, 2] - p[i, j0, 2]
            i0 = i_f if abs(p[i_f + 1, j, 2] - p[i_f, j, 2]) <= abs(p[i_b + 1, j, 2] - p[i_b, j, 2]) else i_b
            vx, vy, vz = p[i0 + 1, j, 0] - p[i0, j, 0], p[i0 + 1, j, 1] - p[i0, j, 1], p[i0 + 1, j, 2] - p[i0, j, 2]
            nx = uy * vz - uz * vy
            ny = uz * vx - ux * vz
            nz = ux * vy - uy * vx
            norm = max(np.sqrt(nx * nx + ny * ny + nz * nz), np.float32(1e-9))
            nx, ny, nz = nx / norm, ny / norm, nz / norm
            if nx * p[i, j, 0] + ny * p[i, j, 1] + nz * p[i, j, 2] > 0:
                nx, ny, nz = -nx, -ny, -nz
            out[i, j, 0] = nx
            out[i, j, 1] = ny
            out[i, j, 2] = nz


@njit(cache=True)
def _deepest_frame(depth):
    t, h, w = depth.shape
    idx = np.zeros((h, w), np.int64)
    for y in range(h):
        for x in range(w):
            best = -np.inf
            for k in range(t):
                d = depth[k, y, x]
                if np.isnan(d) or d == np.inf:
                    d = SKY_DEPTH
                if d > best:
                    best = d
                    idx[y, x] = k
    return idx


@njit(cache=True)
def _gather_frames(a, idx, out):
    _, h, w, c = a.shape
    for y in range(h):
        for x in range(w):
            k = idx[y, x]
            for i in range(c):
                out[y, x, i] = a[k, y, x, i]


@njit(cache=True)
def _rays(xn, yn, up, ray_len, elevation):
    """Ray length per metre of planar depth, sqrt(1 + x^2 + y^2) (float32), and the sine of the ray's elevation
    above the road plane, (x up0 + y up1 + up2) / ray length."""
    for y in range(yn.size):
        for x in range(xn.size):
            r = np.float32(np.sqrt(1.0 + xn[x] * xn[x] + yn[y] * yn[y]))
            ray_len[y, x] = r
            elevation[y, x] = np.float32((xn[x] * up[0] + yn[y] * up[1] + up[2]) / np.float64(r))


@njit(cache=True)
def _road_pixels(depth, sem, road_lut):
    """Row and column indices (row-major order) of the road pixels with a finite depth in (0.1, SKY_DEPTH / 2)."""
    h, w = depth.shape
    vs = np.empty(h * w, np.int64)
    us = np.empty(h * w, np.int64)
    n = 0
    for y in range(h):
        for x in range(w):
            d = depth[y, x]
            if road_lut[sem[y, x]] and d > 0.1 and d < 0.5 * SKY_DEPTH:
                vs[n], us[n] = y, x
                n += 1
    return vs[:n], us[:n]
