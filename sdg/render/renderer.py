"""The CPU renderer: a Scene seen through a static pinhole Camera at frame k -> the five sensors, exact by
construction.

Outputs (per frame, H x W = camera size):
- rgb (H, W, 3) uint8: Lambert + hemispheric ambient, soft sun shadows, contact shadows, sky gradient, textures.
- depth (H, W) float32: planar depth in metres (OpenCV camera z, like CARLA's depth camera). Sky and ground
  farther than geometry.SKY_DEPTH (the far plane) = SKY_DEPTH.
- semantic (H, W) uint8 CARLA tags: ground from scene.ground.lookup, props their tag, actors their category tag
  (two-wheeler riders 13), sky 11.
- instance (H, W) uint32: actor id on every pixel of an actor (rider included), 0 elsewhere.
- normals (H, W, 3) float32: unit surface normals in the OpenCV camera frame, facing the camera; sky (0, 0, 0).

How: each primitive's bounding corners are projected (clipped at the near plane) to a pixel rectangle and only
those pixels are ray-tested (exact analytic tests) into a per-row z-buffer; the ground plane z = 0 is analytic.
Shadows are exact shadow rays, tested only inside each primitive's projected shadow volume.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sdg import geometry
from sdg.geometry import Camera, rotation_matrices
from sdg.model import SensorClip
from sdg.render import kernels
from sdg.render.actors import actor_swing, add_actor_parts, lamp_states
from sdg.render.primitives import PartList, Primitives, props_to_primitives
from sdg.scene import Scene

RENDERER_VERSION = "sdg-cpu-raycast/1.0"
SENSORS = ("rgb", "depth", "semantic", "instance", "normals")
_AO_REACH = 0.8  # metres around a footprint darkened by contact shadows (kernels.render_rows uses the same)
_ROW_INTERLEAVE = 16
_PARALLEL_SILHOUETTE_PIXELS = 1 << 18  # total silhouette pixels of one call above which it uses the threads

if kernels.SKY_DEPTH != geometry.SKY_DEPTH:  # pragma: no cover - guards a constant duplicated for numba
    raise RuntimeError("sdg.render.kernels.SKY_DEPTH differs from sdg.geometry.SKY_DEPTH")


def _row_order(n: int) -> np.ndarray:
    """Rows interleaved so that each thread's contiguous share of the prange spans the whole image height."""
    return np.concatenate([np.arange(r, n, _ROW_INTERLEAVE) for r in range(min(_ROW_INTERLEAVE, n))]).astype(np.int64)


class SceneRenderer:
    """Renders one scene through one camera; caches what does not change between frames (props, ground, rays,
    the actors' part templates and poses). Reuse one instance for many frames or many silhouettes.

    actor_ids: restrict the renderer to these actors (e.g. for silhouettes); None = all actors."""

    def __init__(self, scene: Scene, camera: Camera, actor_ids: Sequence[int] | None = None):
        self.scene = scene
        self.camera = camera
        self.n_frames = int(len(scene.times))
        if self.n_frames == 0:
            raise ValueError(f"scene {scene.name!r} has no frames (scene.times is empty)")
        g = scene.ground
        tags = np.ascontiguousarray(g.tags, dtype=np.uint8)
        alb = np.ascontiguousarray(g.albedo, dtype=np.uint8)
        if tags.ndim != 2 or alb.shape != tags.shape + (3,):
            raise ValueError(f"scene {scene.name!r}: ground.tags must be (Ny, Nx) and ground.albedo (Ny, Nx, 3); "
                             f"got {tags.shape} and {alb.shape}")
        if not float(g.resolution) > 0:
            raise ValueError(f"scene {scene.name!r}: ground.resolution must be > 0 metres, got {g.resolution}")
        self._g = (tags, alb, float(g.x0), float(g.y0), float(g.resolution), int(g.outside_tag),
                   np.asarray(g.outside_albedo, dtype=np.float64))
        self._props_cache: Primitives | None = None
        # camera rays: d(u, v) = d0 + (u + .5) du + (v + .5) dv, world, OpenCV-z component 1
        w2c = camera.world_to_camera[:3, :3]
        c2w = w2c.T  # OpenCV camera -> world
        f = camera.focal
        cx, cy = camera.width / 2.0, camera.height / 2.0
        self._o = np.asarray(camera.location, dtype=np.float64)
        self._d0 = c2w[:, 2] - (cx / f) * c2w[:, 0] - (cy / f) * c2w[:, 1]
        self._du = c2w[:, 0] / f
        self._dv = c2w[:, 1] / f
        self._w2c = np.ascontiguousarray(w2c)
        sun = np.asarray(scene.sun_direction, dtype=np.float64)
        n = np.linalg.norm(sun)
        if not np.isfinite(n) or n == 0:
            raise ValueError(f"scene {scene.name!r}: sun_direction must be a non-zero vector, "
                             f"got {scene.sun_direction}")
        self._sun = sun / n
        self._sun_on = bool(self._sun[2] < -0.05)  # sun more than ~3 degrees above the horizon
        self._sky = np.asarray(scene.sky_color, dtype=np.float64) / 255.0
        self._rows = _row_order(camera.height)
        self._build_actors(actor_ids)

    @property
    def _props(self) -> Primitives:
        if self._props_cache is None:
            self._props_cache = props_to_primitives(self.scene.props)
        return self._props_cache

    def _build_actors(self, actor_ids: Sequence[int] | None) -> None:
        """The actors' part template (rest pose, box frames) and their per-frame box poses, swings, lamp states."""
        scene, n = self.scene, self.n_frames
        actors = scene.actors
        if actor_ids is not None:
            wanted = set(int(a) for a in actor_ids)
            actors = [a for a in actors if int(a.id) in wanted]
        self._actor_index = {}
        pl = PartList()
        centers = np.zeros((n, len(actors), 3))
        rots = np.zeros((n, len(actors), 3, 3))
        swing = np.zeros((n, len(actors), 3))
        lamps = np.full((n, len(actors)), -1, dtype=np.int64)
        for i, a in enumerate(actors):
            if a.id in self._actor_index:
                raise ValueError(f"scene {scene.name!r}: actor id {a.id} appears twice")
            if int(a.id) <= 0:
                raise ValueError(f"scene {scene.name!r}: actor id must be > 0 (0 is 'no actor'), got {a.id}")
            self._actor_index[a.id] = i
            p = np.asarray(a.poses, dtype=np.float64)
            if p.ndim != 2 or p.shape[1] != 6 or len(p) not in (1, n):
                raise ValueError(f"actor {a.id} ({a.type_id}): poses must be (T, 6) with T = {n} scene frames "
                                 f"(or 1 for a static actor); got shape {p.shape}")
            if not np.all(np.isfinite(p)):
                raise ValueError(f"actor {a.id} ({a.type_id}): poses contain non-finite values")
            p = np.broadcast_to(p, (n, 6))
            off = np.asarray(a.box_offset, dtype=np.float64).reshape(3)
            r = rotation_matrices(p[:, 3:6])
            rots[:, i] = r
            centers[:, i] = p[:, :3] + r @ off
            swing[:, i] = actor_swing(a, np.asarray(scene.times, dtype=np.float64))
            lamps[:, i] = lamp_states(a, n)
            add_actor_parts(pl, a, owner=i)
        self._template = pl.freeze()
        if np.any(np.diff(self._template.owner) < 0):  # pragma: no cover - add_actor_parts appends in owner order
            raise RuntimeError("actor parts are not grouped by owner; SceneRenderer.silhouettes relies on it")
        self._a_centers, self._a_rots, self._a_swing, self._a_lamps = centers, rots, swing, lamps

    # ----------------------------------------------------------------------------------------- primitives
    def _check_frame(self, k: int) -> int:
        k = int(k)
        if not 0 <= k < self.n_frames:
            raise IndexError(f"frame index {k} out of range for scene {self.scene.name!r} with {self.n_frames} frames")
        return k

    def actor_primitives(self, k: int, actor_ids: Sequence[int] | None = None) -> Primitives:
        """World primitives of the actors (all, or those in actor_ids) at frame k."""
        k = self._check_frame(k)
        parts = None
        if actor_ids is not None:
            owners = [self._actor_index[a] for a in actor_ids if a in self._actor_index]
            parts = self._template.select_owners(np.asarray(owners, dtype=np.int64))
        return self._template.compose(self._a_centers[k], self._a_rots[k], self._a_swing[k], self._a_lamps[k],
                                      parts=parts)

    def primitives(self, k: int) -> Primitives:
        return Primitives.concat([self._props, self.actor_primitives(k)])

    def _prepare(self, prims: Primitives, shadows: bool):
        """Per-primitive camera constants and the screen rectangles of primitives and of their shadow volumes."""
        cam = self.camera
        f = cam.focal
        cx, cy = cam.width / 2.0, cam.height / 2.0
        local = kernels.prepare_primitives(prims.center, prims.rot, self._o, self._d0, self._du, self._dv, self._sun)
        corners = prims.corners()  # (N, 8, 3)
        m = cam.world_to_camera
        to_cam = lambda pts: pts @ m[:3, :3].T + m[:3, 3]  # noqa: E731
        rect = kernels.screen_hulls(np.ascontiguousarray(to_cam(corners)), f, cx, cy, kernels.NEAR)
        if not shadows or len(prims) == 0:
            return local, rect, (np.zeros_like(rect[0]), rect[1], np.zeros_like(rect[2]), rect[3])
        pts = [corners]
        if self._sun_on:
            s = np.maximum(corners[..., 2], 0.0) / (-self._sun[2])
            proj = corners + s[..., None] * self._sun
            proj[..., 2] = np.minimum(corners[..., 2], 0.0)
            pts.append(proj)
        has_ao = prims.ao > 0
        if np.any(has_ao):
            signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], np.float64)
            ext = (prims.half + np.array([_AO_REACH * 1.5, _AO_REACH * 1.5, 0.0]))[:, None, :] * signs
            foot = np.einsum("nij,nkj->nki", prims.rot, ext) + prims.center[:, None, :]
            foot[..., 2] = 0.0
            foot[~has_ao] = corners[~has_ao]
            pts.append(foot)
        allpts = np.concatenate(pts, axis=1)
        srect = kernels.screen_hulls(np.ascontiguousarray(to_cam(allpts)), f, cx, cy, kernels.NEAR)
        if not self._sun_on:
            srect[0][~has_ao] = 0
        return local, rect, srect

    # ------------------------------------------------------------------------------------------- rendering
    def render(self, k: int, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """All five sensors of frame k. `out` may hold preallocated C-contiguous arrays (e.g. views of a clip)."""
        k = self._check_frame(k)
        cam = self.camera
        h, w = cam.height, cam.width
        if out is None:
            out = {
                "rgb": np.empty((h, w, 3), np.uint8),
                "depth": np.empty((h, w), np.float32),
                "semantic": np.empty((h, w), np.uint8),
                "instance": np.empty((h, w), np.uint32),
                "normals": np.empty((h, w, 3), np.float32),
            }
        prims = self.primitives(k)
        self._run(prims, 0, 0, w, self._rows, True, True, out)
        return out

    def _run(self, prims: Primitives, u0: int, v0: int, width: int, rows: np.ndarray, use_ground: bool,
             shade: bool, out: dict[str, np.ndarray]) -> None:
        local, rect, srect = self._prepare(prims, shadows=shade)
        if len(prims) > 1:  # front to back, so that the early-z test rejects hidden primitives
            order = np.argsort(rect[3][:, 0], kind="stable")
            prims = prims.select(order)
            local = local[order]
            rect = tuple(a[order] for a in rect)
            srect = tuple(a[order] for a in srect)
        tags, alb, gx0, gy0, gres, gout_tag, gout_alb = self._g
        kernels.render_rows(
            rows, int(u0), int(v0), int(width),
            self._o, self._d0, self._du, self._dv, self._w2c,
            prims.kind, prims.half, np.ascontiguousarray(prims.rot), prims.color, prims.mat, prims.tag, prims.inst,
            prims.param, prims.ao,
            local, *rect, *srect,
            tags, alb, gx0, gy0, gres, gout_tag, gout_alb, bool(use_ground),
            self._sun, self._sun_on, self._sky, bool(shade),
            out["rgb"], out["depth"], out["semantic"], out["instance"], out["normals"],
        )

    def silhouette(self, k: int, actor_id: int, rect: tuple[int, int, int, int]) -> np.ndarray:
        """Bool mask (v1 - v0, u1 - u0) of the actor alone over the pixel rectangle rect = (u0, v0, u1, v1), which
        may extend beyond the image. Nothing else (ground, props, other actors) occludes it."""
        return self.silhouettes(k, [(actor_id, rect)])[0]

    def silhouettes(self, k: int, requests: Sequence[tuple[int, tuple[int, int, int, int]]]) -> list[np.ndarray]:
        """Silhouettes of several actors at frame k in one go: for each (actor_id, (u0, v0, u1, v1)) the bool mask
        (v1 - v0, u1 - u0) of that actor ALONE (no ground, prop or other actor hides it) over that pixel rectangle
        (absolute pixel indices, may extend beyond the image). Pixel for pixel the same as rendering the actor by
        itself (a pixel is set when its centre ray hits one of the actor's primitives in front of the near plane).

        The frame's primitives of all the requested actors are composed and prepared once, and one kernel call
        ray-tests every rectangle against its own actor's primitives only (serially for small total areas, where
        starting threads would cost more than the work; over the numba threads above _PARALLEL_SILHOUETTE_PIXELS)."""
        k = self._check_frame(k)
        jobs = []
        for actor_id, rect in requests:
            u0, v0, u1, v1 = (int(x) for x in rect)
            if u1 < u0 or v1 < v0:
                raise ValueError(f"silhouette rect {rect} must satisfy u0 <= u1 and v0 <= v1")
            if actor_id not in self._actor_index:
                raise KeyError(f"no actor {actor_id} in scene {self.scene.name!r} "
                               "(or not in this renderer's actor_ids)")
            jobs.append((self._actor_index[actor_id], u0, v0, u1, v1))
        n = len(jobs)
        if n == 0:
            return []
        job_rect = np.array([j[1:] for j in jobs], dtype=np.int64).reshape(n, 4)
        sizes = (job_rect[:, 3] - job_rect[:, 1]) * (job_rect[:, 2] - job_rect[:, 0])
        job_off = np.zeros(n, dtype=np.int64)
        np.cumsum(sizes[:-1], out=job_off[1:])
        out = np.zeros(int(sizes.sum()), dtype=bool)
        heights = np.where(sizes > 0, job_rect[:, 3] - job_rect[:, 1], 0)
        if out.size:
            # the parts of the requested actors, composed once: the template keeps each owner's parts contiguous
            # and in owner order, so each actor's primitives are one index range of the selection
            owners = np.unique(np.array([j[0] for j in jobs], dtype=np.int64))
            sel = self._template.select_owners(owners)
            prims = self._template.compose(self._a_centers[k], self._a_rots[k], self._a_swing[k], self._a_lamps[k],
                                           parts=sel)
            sel_owner = self._template.owner[sel]
            job_owner = np.array([j[0] for j in jobs], dtype=np.int64)
            job_prims = np.stack([np.searchsorted(sel_owner, job_owner, side="left"),
                                  np.searchsorted(sel_owner, job_owner, side="right")], axis=1).astype(np.int64)
            local, rect, _ = self._prepare(prims, shadows=False)
            task_job = np.repeat(np.arange(n, dtype=np.int64), heights)
            task_row = np.arange(len(task_job), dtype=np.int64) - np.repeat(np.cumsum(heights) - heights, heights)
            run = (kernels.silhouette_rows_parallel if out.size > _PARALLEL_SILHOUETTE_PIXELS
                   else kernels.silhouette_rows)
            run(task_job, task_row, job_rect, job_off, job_prims, prims.kind, prims.half, local, rect[0], rect[1],
                rect[2], out)
        return [out[o:o + s].reshape(r[3] - r[1], r[2] - r[0]) for o, s, r in zip(job_off.tolist(), sizes.tolist(),
                                                                                   job_rect.tolist())]

    def _silhouette_zbuffer(self, k: int, actor_id: int, rect: tuple[int, int, int, int]) -> np.ndarray:
        """silhouette() the long way: the full z-buffer pass of render_rows over the actor's primitives alone (the
        reference the fast path is tested against)."""
        u0, v0, u1, v1 = (int(x) for x in rect)
        h, w = v1 - v0, u1 - u0
        if h == 0 or w == 0:
            return np.zeros((h, w), dtype=bool)
        prims = self.actor_primitives(k, [actor_id])
        out = {
            "rgb": np.empty((1, 1, 3), np.uint8),
            "depth": np.empty((h, w), np.float32),
            "semantic": np.empty((h, w), np.uint8),
            "instance": np.empty((h, w), np.uint32),
            "normals": np.empty((1, 1, 3), np.float32),
        }
        self._run(prims, u0, v0, w, _row_order(h), False, False, out)
        return out["instance"] == np.uint32(actor_id)


# --------------------------------------------------------------------------------------------- public API
def render_frame(scene: Scene, camera: Camera, k: int) -> dict[str, np.ndarray]:
    """The five sensors of scene frame k: keys rgb, depth, semantic, instance, normals (see module docstring)."""
    return SceneRenderer(scene, camera).render(k)


def render_clip(scene: Scene, camera: Camera, frame_indices: Sequence[int]) -> SensorClip:
    """The five sensors for each of frame_indices (indices into scene.times), stacked (T, H, W, ...)."""
    idx = np.asarray(list(frame_indices), dtype=np.int64).reshape(-1)
    r = SceneRenderer(scene, camera)
    for k in idx:
        r._check_frame(int(k))
    t, h, w = len(idx), camera.height, camera.width
    clip = {
        "rgb": np.empty((t, h, w, 3), np.uint8),
        "depth": np.empty((t, h, w), np.float32),
        "semantic": np.empty((t, h, w), np.uint8),
        "instance": np.empty((t, h, w), np.uint32),
        "normals": np.empty((t, h, w, 3), np.float32),
    }
    for i, k in enumerate(idx):
        r.render(int(k), out={name: arr[i] for name, arr in clip.items()})
    return SensorClip(
        **clip,
        times=np.asarray(scene.times, dtype=np.float64)[idx],
        frame_indices=idx,
        provenance={"simulator": "builtin", "renderer": RENDERER_VERSION},
    )


def silhouette(scene: Scene, camera: Camera, k: int, actor_id: int, rect: tuple[int, int, int, int]) -> np.ndarray:
    """Bool mask (v1 - v0, u1 - u0) of actor `actor_id` ALONE (nothing else in the scene) over the pixel rectangle
    rect = (u0, v0, u1, v1) (absolute pixel indices, may extend beyond the image) — for occlusion/truncation."""
    if not any(a.id == actor_id for a in scene.actors):
        raise KeyError(f"no actor {actor_id} in scene {scene.name!r}")
    return SceneRenderer(scene, camera, actor_ids=[actor_id]).silhouette(k, actor_id, rect)
