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

from sdg.geometry import SKY_DEPTH, Camera, transform_matrix
from sdg.scene import Scene


def _points_camera(camera: Camera, depth: np.ndarray) -> np.ndarray:
    """(H, W, 3) OpenCV camera-frame points of the pixel centres at their planar depth."""
    h, w = depth.shape
    f = camera.focal
    xs = (np.arange(w, dtype=np.float64) + 0.5 - w / 2.0) / f
    ys = (np.arange(h, dtype=np.float64) + 0.5 - h / 2.0) / f
    d = depth.astype(np.float64)
    return np.stack([xs[None, :] * d, ys[:, None] * d, d], axis=-1)


def frame_flow(scene: Scene, camera: Camera, k: int, k_next: int, depth: np.ndarray,
               instance: np.ndarray) -> np.ndarray:
    """Forward flow from scene frame k to scene frame k_next for one rendered frame (depth, instance of frame k)."""
    h, w = depth.shape
    flow = np.zeros((h, w, 2), np.float32)
    surface = depth < SKY_DEPTH * 0.999
    ids = np.unique(instance[surface & (instance > 0)])
    if not len(ids):
        return flow  # static world, static camera
    w2c = camera.world_to_camera
    c2w = np.linalg.inv(w2c)
    pc = _points_camera(camera, depth)
    f, cx, cy = camera.focal, w / 2.0, h / 2.0
    by_id = {a.id: a for a in scene.actors}
    for aid in ids:
        actor = by_id.get(int(aid))
        if actor is None:
            continue
        m = (instance == aid) & surface
        p0, p1 = actor.poses[k], actor.poses[k_next]
        motion = transform_matrix(p1[:3], p1[3:]) @ np.linalg.inv(transform_matrix(p0[:3], p0[3:]))
        if np.allclose(motion, np.eye(4), atol=1e-9):
            continue
        # camera -> world -> moved -> camera, as one 4x4
        t = w2c @ motion @ c2w
        pts = pc[m]
        moved = pts @ t[:3, :3].T + t[:3, 3]
        z = np.maximum(moved[:, 2], 1e-6)
        u = f * moved[:, 0] / z + cx
        v = f * moved[:, 1] / z + cy
        vs, us = np.nonzero(m)
        flow[vs, us, 0] = u - (us + 0.5)
        flow[vs, us, 1] = v - (vs + 0.5)
    return flow


def clip_flow(scene: Scene, camera: Camera, frame_indices, depth: np.ndarray, instance: np.ndarray) -> np.ndarray:
    """(T, H, W, 2) float32 forward flow of a clip; the last frame is NaN (no next frame)."""
    idx = [int(i) for i in frame_indices]
    out = np.full(depth.shape + (2,), np.nan, np.float32)
    for t in range(len(idx) - 1):
        out[t] = frame_flow(scene, camera, idx[t], idx[t + 1], depth[t], instance[t])
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
