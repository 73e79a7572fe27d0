"""Make a CARLA instance image speak in the scene's actor ids.

A replayed recording respawns its actors with new ids, and CARLA's instance camera ids do not always equal actor
ids (CARLA issues #4938, #6636, #9491). So: (1) map simulator actors to scene actors by type and position
(`match_sim_actors`); (2) keep an instance segment whose (mapped) id is an actor in view, of a category that fits
the segment's semantic tag and whose projected box overlaps the segment; (3) otherwise match the segment to the
unused actor whose projected 3D box overlaps it most (`reconcile_instances`). Pixels of non-actor tags are 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sdg.geometry import Camera, box_corners
from sdg.scene import Scene
from sdg.tags import CATEGORY_TAG, TAG

RIDER = TAG["rider"]
ACTOR_TAGS = frozenset(CATEGORY_TAG.values()) | {RIDER}
_TWO_WHEELERS = ("motorcycle", "bicycle")


def _tag_fits(tag: int, category: str) -> bool:
    return CATEGORY_TAG.get(category) == tag or (tag == RIDER and category in _TWO_WHEELERS)


def match_sim_actors(sim_actors: Sequence[tuple[int, str, Sequence[float]]], scene: Scene, k: int,
                     tol: float = 1.5) -> dict[int, int]:
    """Simulator actors (id, type_id, location metres) -> scene actor ids, by the nearest scene actor of the same
    type_id (xy distance at scene frame k, within `tol` metres); each scene actor is used once, closest pairs
    first."""
    pairs = []
    for sid, type_id, loc in sim_actors:
        loc = np.asarray(loc, np.float64)
        for a in scene.actors:
            if a.type_id != type_id:
                continue
            for origin in (a.poses[k, :3], a.box_centers()[k]):
                d = float(np.hypot(*(origin[:2] - loc[:2])))
                if d <= tol:
                    pairs.append((d, int(sid), a.id))
    pairs.sort()
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, sid, aid in pairs:
        if sid in out or aid in used:
            continue
        out[sid] = aid
        used.add(aid)
    return out


def projected_rects(scene: Scene, camera: Camera, k: int) -> dict[int, np.ndarray]:
    """Actor id -> [u0, v0, u1, v1] of its projected 3D box at frame k, clipped to the image (continuous pixel
    coordinates); actors entirely behind the camera or outside the image are left out."""
    out: dict[int, np.ndarray] = {}
    for a in scene.actors:
        c = box_corners(a.size, a.box_centers()[k], a.poses[k, 3:6])
        uv, z = camera.project(c)
        front = z > 0.05
        if not np.any(front):
            continue
        uv = uv[front]
        r = np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])
        r = np.clip(r, [0, 0, 0, 0], [camera.width, camera.height, camera.width, camera.height])
        if r[2] - r[0] <= 0 or r[3] - r[1] <= 0:
            continue
        out[a.id] = r
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def _segments(ids: np.ndarray, tags: np.ndarray) -> list[tuple[int, int, np.ndarray, int]]:
    """(raw id, majority tag, tight box [u0, v0, u1+1, v1+1], pixel count) of each nonzero id on actor tags."""
    actor_px = np.isin(tags, list(ACTOR_TAGS)) & (ids != 0)
    flat = np.flatnonzero(actor_px)
    if flat.size == 0:
        return []
    seg_ids = ids.reshape(-1)[flat]
    order = np.argsort(seg_ids, kind="stable")
    seg_ids, flat = seg_ids[order], flat[order]
    cuts = np.flatnonzero(np.diff(seg_ids)) + 1
    w = ids.shape[1]
    out = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(flat)]):
        px = flat[lo:hi]
        rows, cols = px // w, px % w
        t = tags.reshape(-1)[px]
        out.append((int(seg_ids[lo]), int(np.bincount(t).argmax()),
                    np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], np.float64), int(hi - lo)))
    return out


def reconcile_instances(ids: np.ndarray, tags: np.ndarray, scene: Scene, camera: Camera, k: int,
                        sim_to_scene: dict[int, int] | None = None, min_iou: float = 0.1
                        ) -> tuple[np.ndarray, dict]:
    """(H, W) raw instance ids + semantic tags of frame k -> ((H, W) uint32 scene actor ids, report).

    report = {"segments", "by_id", "by_projection", "unmatched"} (counts of instance segments on actor tags)."""
    sim_to_scene = sim_to_scene or {}
    cats = {a.id: a.category for a in scene.actors}
    rects = projected_rects(scene, camera, k)
    segs = _segments(ids, tags)
    mapping: dict[int, int] = {}
    used: set[int] = set()
    unresolved = []
    for raw, tag, box, _n in segs:
        cand = sim_to_scene.get(raw, raw if raw in cats else None)
        if (cand is not None and cand in rects and cand not in used and _tag_fits(tag, cats[cand])
                and _iou(box, rects[cand]) > 0.0):
            mapping[raw] = cand
            used.add(cand)
        else:
            unresolved.append((raw, tag, box))
    by_id = len(mapping)
    scored = []
    for raw, tag, box in unresolved:
        for aid, r in rects.items():
            if aid in used or not _tag_fits(tag, cats[aid]):
                continue
            s = _iou(box, r)
            if s >= min_iou:
                scored.append((s, raw, aid))
    scored.sort(reverse=True)
    for _, raw, aid in scored:
        if raw in mapping or aid in used:
            continue
        mapping[raw] = aid
        used.add(aid)
    out = np.zeros(ids.shape, np.uint32)
    if mapping:
        keys = np.array(sorted(mapping), np.uint32)
        vals = np.array([mapping[int(x)] for x in keys], np.uint32)
        actor_px = np.isin(tags, list(ACTOR_TAGS))
        pos = np.clip(np.searchsorted(keys, ids), 0, len(keys) - 1)
        hit = (keys[pos] == ids) & actor_px
        out[hit] = vals[pos[hit]]
    report = {"segments": len(segs), "by_id": by_id, "by_projection": len(mapping) - by_id,
              "unmatched": len(segs) - len(mapping)}
    return out, report
