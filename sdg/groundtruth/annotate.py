"""Annotate a clip: per-frame object annotations (2D/3D boxes, polygons, visibility), clip-stable Set-of-Mark
numbers and per-frame event records. Pure (no Ray); the ground-truth stage wraps it.

Which objects a frame reports: every scene actor with at least `min_pixels` visible pixels (instance == actor id),
and also every actor whose box centre is in front of the camera (planar depth > 0), at most `max_distance` metres
from the camera centre, and whose projected 3D box overlaps the image, even with no visible pixel (fully occluded
objects are reported with visibility 0 and bbox_2d None: hard negatives). Instance ids that are not scene actors are
ignored.

Marks: 1..N over the clip in a seeded random order (a permutation of the actors that ever show at least
`min_pixels` visible pixels in the clip, drawn from `mark_seed`), so a mark number says nothing about an object's
size, distance, side or time of appearance; an actor never that visible gets mark 0 in every frame. The marks are
fixed once per clip: every frame and every augmentation variant of the clip uses the same numbers.

Also per clip: the tracks (world box centre, heading, speed per frame) of every marked actor and every event actor,
the scene's events with their details, and for traffic lights whether the lit lamp is seen in each frame
(`state_visible`, sdg.groundtruth.facts.lit_lamp_seen).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from sdg.geometry import Camera
from sdg.groundtruth.facts import actor_tracks, lit_lamp_seen
from sdg.groundtruth.masks import InstancePixels, index_instances, mask_polygons
from sdg.groundtruth.projection import ProjectedBox, project_box
from sdg.groundtruth.visibility import (
    BatchSilhouetteFn,
    SilhouetteCounts,
    SilhouetteFn,
    SilhouetteRequest,
    count_silhouette,
    plan_silhouette,
    visibility_metrics,
)
from sdg.model import Box3D, ClipAnnotations, EventRecord, ObjectAnnotation, SensorClip
from sdg.scene import Actor, Event, Scene
from sdg.seeds import stable_seed

EVENT_TIME_TOLERANCE = 1e-6  # seconds: a frame at exactly t_start / t_end is inside the event


def assign_marks(first_seen: dict[int, tuple[int, int]], seed: int | None = None) -> dict[int, int]:
    """Marks 1..N for the actors of {actor_id: (first frame with enough pixels, pixel count in that frame)}.
    With a `seed`: a seeded random permutation of the actors (taken in actor-id order, so neither appearance nor
    size matters). Without: by first appearance (earlier frame, then more pixels, then smaller actor id)."""
    if seed is None:
        order = sorted(first_seen, key=lambda a: (first_seen[a][0], -first_seen[a][1], a))
    else:
        ids = sorted(first_seen)
        order = [ids[i] for i in np.random.default_rng(seed).permutation(len(ids))]
    return {a: i + 1 for i, a in enumerate(order)}


def clip_mark_seed(scene: Scene, camera: Camera, clip: SensorClip) -> int:
    """The default seed of a clip's mark order: its scene, camera and first frame."""
    first = int(clip.frame_indices[0]) if len(clip.frame_indices) else 0
    return stable_seed("sdg.marks", scene.name, camera.name, first)


def frame_events(events: list[Event], time: float, marks: dict[int, int]) -> list[EventRecord]:
    """One EventRecord per scene event at frame time `time` (s). `marks` lists the marks of the event's actors in
    the order of actor_ids, leaving out actors without a mark."""
    out = []
    for ev in events:
        out.append(
            EventRecord(
                kind=ev.kind,
                actor_ids=[int(a) for a in ev.actor_ids],
                marks=[marks[a] for a in ev.actor_ids if marks.get(a, 0) > 0],
                t_start=float(ev.t_start),
                t_end=float(ev.t_end),
                active=bool(ev.t_start - EVENT_TIME_TOLERANCE <= time <= ev.t_end + EVENT_TIME_TOLERANCE),
            )
        )
    return out


def _renderer_silhouettes() -> Callable[[Scene, set[int]], BatchSilhouetteFn]:
    """A factory of batched silhouettes from sdg.render (imported here, lazily: the renderer is heavy and optional
    for ground truth): factory(scene, actor_ids) -> fn(scene, camera, k, [(actor_id, rect), ...]) -> masks, with
    one SceneRenderer per camera (full and downsampled) restricted to `actor_ids`, kept for the duration of a call
    of annotate_clip (building a renderer per object would redo its per-scene setup)."""
    try:
        from sdg.render import SceneRenderer  # noqa: PLC0415
    except ImportError as e:
        raise ImportError(
            "annotate_clip: no silhouette_fn was given and sdg.render.silhouette cannot be imported "
            f"({e}); pass silhouette_fn=sdg.groundtruth.box_silhouette to use the actors' 3D boxes instead"
        ) from e

    def factory(scene: Scene, actor_ids: set[int]) -> BatchSilhouetteFn:
        renderers: dict = {}

        def batch(scene: Scene, camera: Camera, k: int, requests: list) -> list[np.ndarray]:
            if camera not in renderers:
                renderers[camera] = SceneRenderer(scene, camera, actor_ids=sorted(actor_ids))
            return renderers[camera].silhouettes(k, requests)

        return batch

    return factory


def _per_object(fn: SilhouetteFn) -> BatchSilhouetteFn:
    """A batched silhouette function that calls a per-object one for each request."""
    return lambda scene, camera, k, requests: [fn(scene, camera, k, a, r) for a, r in requests]


def _validate(scene: Scene, camera: Camera, clip: SensorClip) -> None:
    t, h, w = clip.instance.shape
    if (h, w) != (camera.height, camera.width):
        raise ValueError(
            f"SensorClip.instance frames are {w}x{h} but camera {camera.name!r} is {camera.width}x{camera.height};"
            " annotate with the camera the clip was rendered with"
        )
    for name in ("times", "frame_indices"):
        n = len(getattr(clip, name))
        if n != t:
            raise ValueError(f"SensorClip.{name} has {n} entries for {t} frames")
    fi = np.asarray(clip.frame_indices)
    if t and (fi.min() < 0 or fi.max() >= len(scene.times)):
        raise ValueError(
            f"SensorClip.frame_indices span {int(fi.min())}..{int(fi.max())} but scene {scene.name!r} has "
            f"{len(scene.times)} frames"
        )
    for a in scene.actors:
        if len(a.poses) != len(scene.times):
            raise ValueError(
                f"scene {scene.name!r}: actor {a.id} has {len(a.poses)} poses for {len(scene.times)} scene frames"
            )


def _silhouette_rect(pb: ProjectedBox, pix: InstancePixels | None, margin: int) -> tuple[int, int, int, int]:
    """Integer rectangle covering the projected box outline (and the visible pixels) plus `margin` pixels."""
    boxes = []
    b = pb.bounds()
    if b is not None:
        boxes.append((math.floor(b[0]), math.floor(b[1]), math.ceil(b[2]), math.ceil(b[3])))
    if pix is not None:
        boxes.append((pix.u0, pix.v0, pix.u1 + 1, pix.v1 + 1))
    # bounds of a near-clipped outline can be astronomically large; keep them in int range before capping
    lim = 1 << 30
    u0 = max(min(x[0] for x in boxes) - margin, -lim)
    v0 = max(min(x[1] for x in boxes) - margin, -lim)
    u1 = min(max(x[2] for x in boxes) + margin, lim)
    v1 = min(max(x[3] for x in boxes) + margin, lim)
    return int(u0), int(v0), int(u1), int(v1)


# Tags of the flat ground (z = 0), which lies under every actor and so can never hide one.
_GROUND_TAGS = np.zeros(256, bool)
_GROUND_TAGS[[1, 2, 10, 23, 24, 25, 27]] = True


def _nothing_in_front(pb: ProjectedBox, rect: tuple[int, int, int, int], actor_id: int, depth: np.ndarray,
                      semantic: np.ndarray, instance: np.ndarray) -> bool:
    """Cheap exact test that lets most objects skip the silhouette render: the actor's whole box projects inside
    the image (so nothing is truncated) and no pixel of its rectangle shows anything but the actor itself, the
    ground, or something farther than the box's farthest corner (planar depth is linear, so every point of the
    box is at most that far): then no pixel of its silhouette can be hidden, and the visible mask IS the
    silhouette."""
    h, w = depth.shape
    u0, v0, u1, v1 = rect
    if u0 < 0 or v0 < 0 or u1 > w or v1 > h or not np.all(pb.depth > 0):
        return False
    far = float(np.max(pb.depth))
    d = depth[v0:v1, u0:u1]
    others = (instance[v0:v1, u0:u1] != actor_id) & ~_GROUND_TAGS[semantic[v0:v1, u0:u1]]
    return not bool(np.any(others & (d < far)))


def annotate_clip(
    scene: Scene,
    camera: Camera,
    clip: SensorClip,
    silhouette_fn: SilhouetteFn | None = None,
    *,
    min_pixels: int = 16,
    max_distance: float = 150.0,
    polygon_tolerance: float = 1.0,
    max_silhouette_pixels: int = 1 << 20,
    window_margin: float = 1.0,
    silhouette_margin: int = 2,
    mark_seed: int | None = None,
) -> ClipAnnotations:
    """Annotate every frame of `clip` (rendered from `scene` through `camera`).

    silhouette_fn(scene, camera, k, actor_id, (u0, v0, u1, v1)) -> bool (v1-v0, u1-u0) mask of the actor alone at
    scene frame k (default: the CPU renderer's silhouettes, imported lazily and rendered in one batch per frame
    (sdg.render.SceneRenderer.silhouettes, pixel for pixel the same as sdg.render.silhouette);
    sdg.groundtruth.box_silhouette for box actors). Only objects that something could hide or truncate are rendered:
    when the whole box projects inside the image and nothing nearer than its farthest corner shows in its
    rectangle, the visible mask is the silhouette.
    min_pixels: visible pixels for an object to count as seen (and to earn a mark). max_distance (m): farthest
    fully-occluded object still reported. polygon_tolerance (px): Douglas-Peucker tolerance of the outlines.
    max_silhouette_pixels / window_margin: cost caps of the silhouette (sdg.groundtruth.visibility).
    silhouette_margin (px): extra border around the projected box when rendering the silhouette, for renderers
    whose shapes stick slightly out of the box.
    mark_seed: seed of the clip's random mark order (default: clip_mark_seed, from the scene, camera and window).
    """
    _validate(scene, camera, clip)
    factory = _renderer_silhouettes() if silhouette_fn is None else None
    W, H = camera.width, camera.height
    actors: list[Actor] = list(scene.actors)
    centers = np.stack([a.box_centers() for a in actors], axis=1) if actors else np.zeros((len(scene.times), 0, 3))
    speeds = (
        np.stack([np.linalg.norm(a.velocities(scene.times), axis=1) for a in actors], axis=1)
        if actors
        else np.zeros((len(scene.times), 0))
    )
    cam_loc = np.asarray(camera.location, dtype=np.float64)

    # pass 1, per frame: everything but the silhouettes, which are only planned here
    first_seen: dict[int, tuple[int, int]] = {}
    pending: list[list[dict]] = []  # per frame: ObjectAnnotation fields without the mark
    counts: list[list[SilhouetteCounts | None]] = []  # per frame, per pending object (None: not rendered yet)
    planned: dict[tuple[int, int], list[tuple[int, int, SilhouetteRequest]]] = {}  # (t, scale) -> (t, j, request)
    for t in range(clip.instance.shape[0]):
        k = int(clip.frame_indices[t])
        pixels = index_instances(clip.instance[t])
        c_world = centers[k]
        c_cam = camera.to_camera(c_world) if actors else np.zeros((0, 3))
        dist = np.linalg.norm(c_world - cam_loc, axis=1) if actors else np.zeros(0)
        frame: list[dict] = []
        frame_counts: list[SilhouetteCounts | None] = []
        for i, a in enumerate(actors):
            pix = pixels.get(a.id)
            visible = pix.count if pix is not None else 0
            seen = visible >= min_pixels
            if not seen and not (c_cam[i, 2] > 0 and dist[i] <= max_distance):
                continue
            rotation = [float(x) for x in a.poses[k, 3:6]]
            pb = project_box(camera, a.size, c_world[i], rotation)
            if not seen and not pb.intersects_image(W, H):
                continue
            if seen and a.id not in first_seen:
                first_seen[a.id] = (t, visible)
            rect = _silhouette_rect(pb, pix, silhouette_margin)
            if pix is not None and _nothing_in_front(pb, rect, a.id, clip.depth[t], clip.semantic[t],
                                                     clip.instance[t]):
                frame_counts.append(SilhouetteCounts(float(visible), float(visible), 1, rect))  # mask = silhouette
            else:
                req = plan_silhouette(camera, a.id, rect, max_pixels=max_silhouette_pixels,
                                      window_margin=window_margin)
                u0, v0, u1, v1 = req.rect
                if (u1 - u0) * (v1 - v0) == 0:
                    frame_counts.append(SilhouetteCounts(0.0, 0.0, 1, req.rect))
                else:
                    frame_counts.append(None)
                    planned.setdefault((t, req.scale), []).append((t, len(frame), req))
            amodal = pb.amodal_box(W, H)
            if amodal is None:  # the box lies behind the near plane but the renderer shows pixels of the actor
                amodal = pix.tight_box if pix is not None else [0.0, 0.0, 0.0, 0.0]
            frame.append(
                dict(
                    actor_id=int(a.id),
                    category=a.category,
                    type_id=a.type_id,
                    bbox_2d=pix.tight_box if pix is not None else None,
                    bbox_2d_amodal=amodal,
                    polygon=mask_polygons(pix.crop(), (pix.u0, pix.v0), polygon_tolerance) if pix is not None else [],
                    bbox_3d=Box3D(
                        center=[float(x) for x in c_world[i]],
                        size=[float(x) for x in a.size],
                        rotation=rotation,
                        center_camera=[float(x) for x in c_cam[i]],
                    ),
                    corners_2d=[[float(u), float(v)] for u, v in pb.uv],
                    distance=float(dist[i]),
                    pixels=int(visible),
                    speed=float(speeds[k, i]),
                    state=(a.states[k] if a.states is not None and k < len(a.states) else None),
                    size_source=a.size_source,
                    state_visible=(lit_lamp_seen(camera, a, k, clip.depth[t], clip.instance[t])
                                   if a.category == "traffic_light" else None),
                )
            )
        pending.append(frame)
        counts.append(frame_counts)

    # pass 2: the planned silhouettes, all those of one frame and camera scale in one call
    if planned:
        if factory is not None:
            batch = factory(scene, {req.actor_id for reqs in planned.values() for _, _, req in reqs})
            name = "sdg.render.SceneRenderer.silhouettes"
        else:
            batch = _per_object(silhouette_fn)
            name = getattr(silhouette_fn, "__qualname__", repr(silhouette_fn))
        for (t, _), reqs in planned.items():
            k = int(clip.frame_indices[t])
            masks = batch(scene, reqs[0][2].camera, k, [(req.actor_id, req.coarse) for _, _, req in reqs])
            for (_, j, req), mask in zip(reqs, masks):
                counts[t][j] = count_silhouette(req, mask, k, name)
    for frame, frame_counts in zip(pending, counts):
        for f, c in zip(frame, frame_counts):
            f["visibility"], f["occlusion"], f["truncation"] = visibility_metrics(f["pixels"], c.s_all, c.s_in)

    marks = assign_marks(first_seen, clip_mark_seed(scene, camera, clip) if mark_seed is None else mark_seed)
    objects = []
    for frame in pending:
        objs = [ObjectAnnotation(mark=marks.get(f["actor_id"], 0), **f) for f in frame]
        objs.sort(key=lambda o: (o.mark == 0, o.mark, o.actor_id))
        objects.append(objs)
    events = [frame_events(scene.events, float(clip.times[t]), marks) for t in range(len(pending))]
    tracked = set(marks) | {int(a) for ev in scene.events for a in ev.actor_ids}
    scene_events = [{"kind": ev.kind, "actor_ids": [int(a) for a in ev.actor_ids], "t_start": float(ev.t_start),
                     "t_end": float(ev.t_end), "details": _plain(ev.details)} for ev in scene.events]
    return ClipAnnotations(marks=marks, objects=objects, events=events,
                           tracks=actor_tracks(scene, [int(k) for k in clip.frame_indices], tracked),
                           scene_events=scene_events)


def _plain(value):
    """JSON-ready copy of event details (numpy scalars and arrays to Python numbers and lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value
