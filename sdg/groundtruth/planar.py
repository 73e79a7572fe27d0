"""Oriented rectangles in the ground plane (x, y in metres, yaw in degrees, CARLA axes): footprints of actors'
boxes, their overlap, gap distance and the exact time of first contact under constant relative velocity (swept
separating-axis test). Every function is vectorised over leading dimensions.
"""
from __future__ import annotations

import numpy as np


def footprints(center_xy: np.ndarray, length, width, yaw_deg: np.ndarray) -> np.ndarray:
    """(..., 4, 2) corners of rectangles of full `length` (along the heading) and `width`, in the order
    (+l, +w), (-l, +w), (-l, -w), (+l, -w) of local half extents (x forward, y right), i.e. going around."""
    c = np.asarray(center_xy, dtype=np.float64)
    yaw = np.radians(np.asarray(yaw_deg, dtype=np.float64))
    hl = np.asarray(length, dtype=np.float64) / 2.0
    hw = np.asarray(width, dtype=np.float64) / 2.0
    fwd = np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)  # heading direction
    side = np.stack([-np.sin(yaw), np.cos(yaw)], axis=-1)
    hl, hw = np.broadcast_to(hl, yaw.shape)[..., None], np.broadcast_to(hw, yaw.shape)[..., None]
    f, s = fwd * hl, side * hw
    return np.stack([c + f + s, c - f + s, c - f - s, c + f - s], axis=-2)


def _axes(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4, 2) unit separating-axis candidates of two rectangles: the two edge directions of each."""
    e = np.stack([a[..., 1, :] - a[..., 0, :], a[..., 3, :] - a[..., 0, :], b[..., 1, :] - b[..., 0, :],
                  b[..., 3, :] - b[..., 0, :]], axis=-2)
    n = np.linalg.norm(e, axis=-1, keepdims=True)
    return e / np.where(n > 0, n, 1.0)


def contact_interval(a: np.ndarray, b: np.ndarray, v_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Time interval (t_enter, t_exit) in seconds during which rectangle b, moving at v_rel (m/s) relative to a,
    overlaps a (touching counts). a, b (..., 4, 2); v_rel (..., 2). Empty when t_enter > t_exit; a static
    overlap gives (-inf, inf)."""
    axes = _axes(a, b)  # (..., 4, 2)
    pa = np.einsum("...kd,...ad->...ak", a, axes)  # (..., 4 axes, 4 corners)
    pb = np.einsum("...kd,...ad->...ak", b, axes)
    amin, amax = pa.min(axis=-1), pa.max(axis=-1)
    bmin, bmax = pb.min(axis=-1), pb.max(axis=-1)
    s = np.einsum("...d,...ad->...a", np.asarray(v_rel, dtype=np.float64), axes)
    moving = np.abs(s) > 1e-12
    s_safe = np.where(moving, s, 1.0)
    t1, t2 = (amin - bmax) / s_safe, (amax - bmin) / s_safe
    overlap_now = (bmin <= amax) & (bmax >= amin)
    enter = np.where(moving, np.minimum(t1, t2), np.where(overlap_now, -np.inf, np.inf))
    leave = np.where(moving, np.maximum(t1, t2), np.where(overlap_now, np.inf, -np.inf))
    return enter.max(axis=-1), leave.min(axis=-1)


def overlaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Do rectangles a and b (..., 4, 2) overlap or touch?"""
    enter, leave = contact_interval(a, b, np.zeros(a.shape[:-2] + (2,)))
    return enter <= leave


def time_to_contact(a: np.ndarray, b: np.ndarray, v_rel: np.ndarray) -> np.ndarray:
    """Seconds until first contact under constant relative velocity: 0 when overlapping now, inf when never."""
    enter, leave = contact_interval(a, b, v_rel)
    hit = (enter <= leave) & (leave >= 0)
    return np.where(hit, np.maximum(enter, 0.0), np.inf)


def _point_segment_distance(p: np.ndarray, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    d = s1 - s0
    dd = np.einsum("...d,...d->...", d, d)
    t = np.clip(np.einsum("...d,...d->...", p - s0, d) / np.where(dd > 0, dd, 1.0), 0.0, 1.0)
    return np.linalg.norm(p - (s0 + t[..., None] * d), axis=-1)


def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest distance (m) between rectangles a and b (..., 4, 2); 0 when they overlap or touch."""
    s0a, s1a = a, np.roll(a, -1, axis=-2)
    s0b, s1b = b, np.roll(b, -1, axis=-2)
    # every corner of one against every edge of the other: (..., 4 corners, 4 edges)
    d1 = _point_segment_distance(b[..., :, None, :], s0a[..., None, :, :], s1a[..., None, :, :])
    d2 = _point_segment_distance(a[..., :, None, :], s0b[..., None, :, :], s1b[..., None, :, :])
    d = np.minimum(d1.min(axis=(-1, -2)), d2.min(axis=(-1, -2)))
    return np.where(overlaps(a, b), 0.0, d)


def segment_crossings(p0: np.ndarray, p1: np.ndarray, q0: np.ndarray, q1: np.ndarray) -> np.ndarray:
    """Parameter s in [0, 1] along p0->p1 where it crosses segment q0->q1, NaN where it does not. Shapes
    broadcast: p (..., 2), q (..., 2)."""
    r = p1 - p0
    e = q1 - q0
    den = r[..., 0] * e[..., 1] - r[..., 1] * e[..., 0]
    w = q0 - p0
    ok = np.abs(den) > 1e-12
    den_s = np.where(ok, den, 1.0)
    s = (w[..., 0] * e[..., 1] - w[..., 1] * e[..., 0]) / den_s
    u = (w[..., 0] * r[..., 1] - w[..., 1] * r[..., 0]) / den_s
    hit = ok & (s >= 0) & (s <= 1) & (u >= 0) & (u <= 1)
    return np.where(hit, s, np.nan)
