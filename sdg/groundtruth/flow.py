"""Optical flow ground truth: forward motion vectors (pixels per frame) from the known camera and actor motion.

For every pixel of frame t with a surface (planar depth < SKY_DEPTH): back-project through the pixel centre to the
3D point X; if the pixel belongs to actor i (instance id), carry X rigidly with the actor's pose change,
X' = T_i(t+1) · T_i(t)^-1 · X, otherwise X stays (static world, static camera); project X' into frame t+1.
flow = projection(X') − pixel centre, in pixels, (H, W, 2) float32 as (du, dv). Sky pixels get 0. The last frame of
a clip has no successor: its flow is NaN. Articulated parts (walking legs) move with the actor's body, so their
flow is the body's; everything else is exact by construction.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from sdg.geometry import SKY_DEPTH, Camera, transform_matrix
from sdg.scene import Scene

_EYE4 = np.eye(4)


@njit(cache=True)
def _flow_kernel(depth, instance, ids, motions, focal, sky, out):
    """Forward flow of the pixels of the moving actors. ids: sorted actor ids that moved (uint32); motions (N, 3, 4):
    camera -> camera transform of each such actor (camera -> world -> moved -> camera). Every other pixel of `out`
    gets 0 (the whole of `out` is written, in one pass). Per pixel, the formula of the module docstring with the
    pinhole of sdg.geometry (principal point at the image centre c = (W/2, H/2)):
    X = ((u + .5 - W/2) / f * d, (v + .5 - H/2) / f * d, d) at planar depth d, X' = M X,
    flow = f X'_xy / max(X'_z, 1e-6) + c - (u + .5, v + .5). One pass over the image; the actor of a pixel is
    found by binary search in `ids`, once per run of equal ids along a row."""
    h, w = depth.shape
    n = ids.shape[0]
    cx = w / 2.0
    cy = h / 2.0
    for v in range(h):
        y = (v + 0.5 - cy) / focal
        last = np.uint32(0)
        slot = -1
        for u in range(w):
            i = instance[v, u]
            out[v, u, 0] = 0.0
            out[v, u, 1] = 0.0
            if i == 0:
                continue
            d = np.float64(depth[v, u])
            if not d < sky:
                continue
            if i != last:  # binary search of the id (runs of one id are long: look it up once per run)
                last = i
                lo = 0
                hi = n
                while lo < hi:
                    mid = (lo + hi) // 2
                    if ids[mid] < i:
                        lo = mid + 1
                    else:
                        hi = mid
                slot = lo if lo < n and ids[lo] == i else -1
            if slot < 0:
                continue
            x = (u + 0.5 - cx) / focal
            px = x * d
            py = y * d
            m = motions[slot]
            mx = m[0, 0] * px + m[0, 1] * py + m[0, 2] * d + m[0, 3]
            my = m[1, 0] * px + m[1, 1] * py + m[1, 2] * d + m[1, 3]
            mz = m[2, 0] * px + m[2, 1] * py + m[2, 2] * d + m[2, 3]
            z = max(mz, 1e-6)
            out[v, u, 0] = focal * mx / z + cx - (u + 0.5)
            out[v, u, 1] = focal * my / z + cy - (v + 0.5)


def _moving_actors(scene: Scene, camera: Camera, k: int, k_next: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ids (uint32) of the actors whose pose changes from frame k to k_next, and their (N, 3, 4)
    camera-frame motions w2c · T(k_next) · T(k)^-1 · c2w. Actors whose motion is the identity (within 1e-9) are
    left out: their flow is exactly 0."""
    w2c = camera.world_to_camera
    c2w = np.linalg.inv(w2c)
    moving: dict[int, np.ndarray] = {}  # id -> motion (an id given twice: the last actor wins, as scene lookups do)
    for actor in scene.actors:
        p0, p1 = actor.poses[k], actor.poses[k_next]
        moving.pop(int(actor.id), None)
        if np.array_equal(p0, p1):  # standing still: no motion at all
            continue
        motion = transform_matrix(p1[:3], p1[3:]) @ np.linalg.inv(transform_matrix(p0[:3], p0[3:]))
        if np.all(np.abs(motion - _EYE4) <= 1e-9 + 1e-5 * _EYE4):  # np.allclose(motion, eye, atol=1e-9), inlined
            continue
        moving[int(actor.id)] = (w2c @ motion @ c2w)[:3]
    if not moving:
        return np.zeros(0, np.uint32), np.zeros((0, 3, 4))
    ids = sorted(moving)
    return np.asarray(ids, dtype=np.uint32), np.ascontiguousarray(np.stack([moving[i] for i in ids]))


def frame_flow(scene: Scene, camera: Camera, k: int, k_next: int, depth: np.ndarray,
               instance: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Forward flow from scene frame k to scene frame k_next for one rendered frame (depth, instance of frame k).
    `out` (H, W, 2) float32, if given, receives the result (and is returned)."""
    h, w = depth.shape
    if instance.shape != (h, w):
        raise ValueError(f"frame_flow: depth is {depth.shape} but instance is {instance.shape}; both must be (H, W)")
    if out is None:
        out = np.empty((h, w, 2), np.float32)
    elif out.shape != (h, w, 2) or out.dtype != np.float32:
        raise ValueError(f"frame_flow: out must be ({h}, {w}, 2) float32, got {out.shape} {out.dtype}")
    ids, motions = _moving_actors(scene, camera, k, k_next)
    if len(ids):
        _flow_kernel(np.ascontiguousarray(depth), _instance_u32(instance), ids, motions, float(camera.focal),
                     SKY_DEPTH * 0.999, out)
    else:
        out[...] = 0.0  # static world, static camera
    return out


def _instance_u32(instance: np.ndarray) -> np.ndarray:
    """The instance frame as C-contiguous uint32 (its documented type); other integer types are converted when
    every id fits."""
    if instance.dtype == np.uint32:
        return np.ascontiguousarray(instance)
    if not np.issubdtype(instance.dtype, np.integer):
        raise ValueError(f"frame_flow: instance must hold integer actor ids (uint32), got dtype {instance.dtype}")
    if instance.size and (int(instance.min()) < 0 or int(instance.max()) > np.iinfo(np.uint32).max):
        raise ValueError(f"frame_flow: instance ids must lie in 0..2**32-1, got {int(instance.min())}.."
                         f"{int(instance.max())}")
    return np.ascontiguousarray(instance, dtype=np.uint32)


def clip_flow(scene: Scene, camera: Camera, frame_indices, depth: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """(T, H, W, 2) float32 forward flow of a clip; the last frame is NaN (no next frame)."""
    idx = [int(i) for i in frame_indices]
    out = np.empty(depth.shape + (2,), np.float32)
    if len(idx):
        out[len(idx) - 1] = np.nan  # every earlier frame is written whole by frame_flow
    for t in range(len(idx) - 1):
        frame_flow(scene, camera, idx[t], idx[t + 1], depth[t], instance[t], out=out[t])
    return out


def warp_backward(next_frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample frame t+1 at (pixel + flow) for every pixel of frame t (nearest neighbour): with exact flow, the
    result equals frame t wherever the point stays visible. Pixels whose target leaves the image get 0."""
    h, w = flow.shape[:2]
    vs, us = np.mgrid[0:h, 0:w]
    fl = np.nan_to_num(flow, nan=0.0)
    tu = np.floor(us + 0.5 + fl[..., 0]).astype(np.int64)
    tv = np.floor(vs + 0.5 + fl[..., 1]).astype(np.int64)
    ok = (tu >= 0) & (tu < w) & (tv >= 0) & (tv < h)
    out = np.zeros_like(next_frame)
    out[ok] = next_frame[tv[ok], tu[ok]]
    return out


def flow_visual(flow: np.ndarray, max_mag: float | None = None) -> np.ndarray:
    """Middlebury-style colour coding (hue = direction, saturation = magnitude) as RGB uint8."""
    import cv2

    fl = np.nan_to_num(flow, nan=0.0)
    mag = np.hypot(fl[..., 0], fl[..., 1])
    ang = (np.degrees(np.arctan2(fl[..., 1], fl[..., 0])) % 360.0) / 2.0
    mm = max_mag or max(float(np.percentile(mag, 99.5)), 1e-3)
    hsv = np.stack([ang, np.clip(mag / mm, 0, 1) * 255, np.full_like(mag, 255)], axis=-1).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
