"""A pure-numpy reference of the renderer's geometry (depth, semantic, instance, normals; no shading).

Same algorithm as the numba kernel — analytic ground, every primitive ray-tested inside its projected screen
rectangle into a z-buffer — but written independently with vectorised numpy. Used by the tests to cross-check the
numba kernel and by benchmarks/bench_simulate.py to measure what numba buys.
"""
from __future__ import annotations

import numpy as np

from sdg.geometry import SKY_DEPTH
from sdg.render.kernels import KIND_BOX, KIND_CYLINDER, NEAR
from sdg.render.renderer import SceneRenderer

_SKY_TAG = 11


def _intersect(kind: int, h: np.ndarray, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Entry parameter t of rays o + t d (o (3,), d (..., 3), local frame) with a primitive; NaN where missed or
    where the entry lies behind NEAR."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == KIND_BOX or kind == KIND_CYLINDER:
            axes = (0, 1, 2) if kind == KIND_BOX else (2,)
            t0 = np.full(d.shape[:-1], -np.inf)
            t1 = np.full(d.shape[:-1], np.inf)
            for a in axes:
                ta = (-h[a] - o[a]) / d[..., a]
                tb = (h[a] - o[a]) / d[..., a]
                lo, hi = np.minimum(ta, tb), np.maximum(ta, tb)
                parallel = d[..., a] == 0
                lo = np.where(parallel, np.where(abs(o[a]) <= h[a], -np.inf, np.inf), lo)
                hi = np.where(parallel, np.where(abs(o[a]) <= h[a], np.inf, -np.inf), hi)
                t0, t1 = np.maximum(t0, lo), np.minimum(t1, hi)
            if kind == KIND_CYLINDER:
                p, q = o[:2] / h[:2], d[..., :2] / h[:2]
                a_ = (q * q).sum(-1)
                b_ = (q * p).sum(-1)
                c_ = (p * p).sum() - 1.0
                disc = b_ * b_ - a_ * c_
                s = np.sqrt(np.maximum(disc, 0.0))
                c0, c1 = (-b_ - s) / a_, (-b_ + s) / a_
                ok = disc >= 0
                c0 = np.where(ok, c0, np.inf)
                c1 = np.where(ok, c1, -np.inf)
                t0, t1 = np.maximum(t0, c0), np.minimum(t1, c1)
        else:
            p, q = o / h, d / h
            a_ = (q * q).sum(-1)
            b_ = (q * p).sum(-1)
            c_ = (p * p).sum() - 1.0
            disc = b_ * b_ - a_ * c_
            s = np.sqrt(np.maximum(disc, 0.0))
            t0 = np.where(disc >= 0, (-b_ - s) / a_, np.inf)
            t1 = np.where(disc >= 0, (-b_ + s) / a_, -np.inf)
        return np.where((t0 <= t1) & (t0 > NEAR), t0, np.nan)


def _normal(kind: int, h: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Outward unit normals at local surface points p (n, 3)."""
    if kind == KIND_BOX:
        r = np.abs(p) / h
        ax = np.argmax(r, axis=1)
        n = np.zeros_like(p)
        n[np.arange(len(p)), ax] = np.where(p[np.arange(len(p)), ax] >= 0, 1.0, -1.0)
        return n
    if kind == KIND_CYLINDER:
        rad = np.sqrt((p[:, 0] / h[0]) ** 2 + (p[:, 1] / h[1]) ** 2)
        cap = np.abs(p[:, 2]) / h[2] >= rad
        n = np.stack([p[:, 0] / h[0] ** 2, p[:, 1] / h[1] ** 2, np.zeros(len(p))], axis=1)
        n[cap] = np.stack([np.zeros(cap.sum()), np.zeros(cap.sum()), np.sign(p[cap, 2])], axis=1)
    else:
        n = p / h**2
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def reference_geometry(renderer: SceneRenderer, k: int) -> dict[str, np.ndarray]:
    """depth, semantic, instance, normals of frame k, computed with numpy only."""
    cam = renderer.camera
    w, h = cam.width, cam.height
    o, dirs, zpu = cam.pixel_rays()
    d = dirs / zpu[..., None]  # unnormalised rays with camera-z 1: t is planar depth
    depth = np.full((h, w), SKY_DEPTH)
    owner = np.full((h, w), -2, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        tg = -o[2] / d[..., 2]
    ground = (d[..., 2] < 0) & (tg > NEAR) & (tg <= SKY_DEPTH)
    depth[ground] = tg[ground]
    owner[ground] = -1
    prims = renderer.primitives(k)
    _, (rect, _, _, _), _ = renderer._prepare(prims, shadows=False)
    for p in range(len(prims)):
        u0, v0, u1, v1 = rect[p]
        u0, v0, u1, v1 = max(u0, 0), max(v0, 0), min(u1, w), min(v1, h)
        if u0 >= u1 or v0 >= v1:
            continue
        r = prims.rot[p]
        ol = r.T @ (o - prims.center[p])
        dl = d[v0:v1, u0:u1] @ r  # (R^T d) for row vectors
        t = _intersect(int(prims.kind[p]), prims.half[p], ol, dl)
        win = ~np.isnan(t) & (t < depth[v0:v1, u0:u1])
        depth[v0:v1, u0:u1][win] = t[win]
        owner[v0:v1, u0:u1][win] = p
    semantic = np.full((h, w), _SKY_TAG, dtype=np.uint8)
    instance = np.zeros((h, w), dtype=np.uint32)
    normals = np.zeros((h, w, 3))
    hit = o + depth[..., None] * d
    tags, _ = renderer.scene.ground.lookup(hit[..., 0][ground & (owner == -1)], hit[..., 1][ground & (owner == -1)])
    semantic[owner == -1] = tags
    normals[owner == -1] = (0.0, 0.0, 1.0)
    for p in np.unique(owner[owner >= 0]):
        m = owner == p
        semantic[m] = prims.tag[p]
        instance[m] = prims.inst[p]
        r = prims.rot[p]
        pl = (hit[m] - prims.center[p]) @ r
        normals[m] = _normal(int(prims.kind[p]), prims.half[p], pl) @ r.T
    flip = (normals * d).sum(-1) > 0
    normals[flip] *= -1
    normals = normals @ cam.world_to_camera[:3, :3].T
    return {"depth": depth.astype(np.float32), "semantic": semantic, "instance": instance,
            "normals": normals.astype(np.float32)}
