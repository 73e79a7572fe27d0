"""Clip-level facts from the scene that the Q&A needs beyond per-frame boxes: actor tracks over the clip, whether a
traffic light's lit lamp is seen from the camera, and the junction areas of a road layout.

Lit lamp seen (`lit_lamp_seen`): the light's state is red/yellow/green, the lamp of that state (geometry of the
renderer's model, sdg.render.actors.traffic_light_lamps) faces the camera (the cosine between the lamp's axis and
the direction to the camera >= MIN_FACING_COS), its disc spans >= MIN_LAMP_PIXELS pixels, and the pixel under the
lamp's centre shows the light itself at the lamp's depth (instance == light id, |planar depth - lamp depth| <=
LAMP_DEPTH_TOLERANCE m): nothing stands in front of it. Only then can a viewer read the light's colour.

Junction areas (`junction_areas`): per junction, the convex hull of the stop lines that lead into it (the box
between the stop lines), from a layout's `stop_lines()`; stop lines are grouped into junctions by proximity.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sdg.geometry import Camera, rotation_matrices
from sdg.model import ActorTrack
from sdg.render.actors import traffic_light_lamps
from sdg.scene import Actor, Scene

MIN_FACING_COS = 0.25  # lamp axis within ~75 degrees of the direction to the camera
MIN_LAMP_PIXELS = 2.0  # lamp disc diameter on the image
LAMP_DEPTH_TOLERANCE = 0.35  # metres between the lamp and the depth image at its centre
JUNCTION_LINK = 30.0  # stop lines closer than this (m) to each other belong to the same junction


def actor_tracks(scene: Scene, frame_indices: Sequence[int], actor_ids) -> dict[int, ActorTrack]:
    """ActorTrack per actor id in `actor_ids` (unknown ids are skipped) over the scene frames `frame_indices`."""
    want = {int(a) for a in actor_ids}
    k = np.asarray(frame_indices, dtype=np.int64)
    out: dict[int, ActorTrack] = {}
    for a in scene.actors:
        if a.id not in want:
            continue
        centers = a.box_centers()
        speed = np.linalg.norm(a.velocities(scene.times), axis=1)
        states = [str(a.states[i]) for i in k] if a.states is not None and len(a.states) == len(scene.times) \
            else None
        out[int(a.id)] = ActorTrack(actor_id=int(a.id), category=a.category, type_id=a.type_id,
                                    size=np.asarray(a.size, dtype=np.float64).copy(), center=centers[k].copy(),
                                    yaw=a.poses[k, 5].astype(np.float64), speed=speed[k].astype(np.float64),
                                    states=states)
    return out


def lit_lamp_seen(camera: Camera, actor: Actor, k: int, depth: np.ndarray, instance: np.ndarray) -> bool:
    """Whether the lit lamp of traffic light `actor` at scene frame k is seen in the frame (see the module
    docstring). depth (H, W) planar metres and instance (H, W) actor ids of that frame."""
    if actor.category != "traffic_light" or actor.states is None or k >= len(actor.states):
        return False
    state = str(actor.states[k]).lower()
    lamp = next((lp for lp in traffic_light_lamps(actor.size) if lp[0] == state), None)
    if lamp is None:
        return False
    _, face, radius, _ = lamp
    rot = rotation_matrices(actor.poses[k:k + 1, 3:6])[0]
    center = actor.box_centers()[k]
    p = center + rot @ face
    axis = rot @ np.array([1.0, 0.0, 0.0])
    to_cam = np.asarray(camera.location, dtype=np.float64) - p
    dist = float(np.linalg.norm(to_cam))
    if dist < 1e-6 or float(axis @ to_cam) / dist < MIN_FACING_COS:
        return False
    uv, z = camera.project(p[None])
    z = float(z[0])
    if z <= 0 or 2.0 * radius * camera.focal / z < MIN_LAMP_PIXELS:
        return False
    u, v = int(np.floor(uv[0, 0])), int(np.floor(uv[0, 1]))
    h, w = instance.shape
    if not (0 <= u < w and 0 <= v < h):
        return False
    return int(instance[v, u]) == int(actor.id) and abs(float(depth[v, u]) - z) <= LAMP_DEPTH_TOLERANCE


def junction_areas(stop_lines) -> list[np.ndarray]:
    """Convex hulls (N, 2) of the stop lines [(polyline (M, 2|3), light id), ...] grouped by junction."""
    pts = [np.asarray(line, dtype=np.float64)[:, :2] for line, _ in stop_lines or []]
    pts = [p for p in pts if p.ndim == 2 and len(p) >= 2]
    if not pts:
        return []
    mids = np.array([p.mean(axis=0) for p in pts])
    group = list(range(len(pts)))

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            if np.linalg.norm(mids[i] - mids[j]) <= JUNCTION_LINK:
                group[root(i)] = root(j)
    out = []
    for r in sorted({root(i) for i in range(len(pts))}):
        members = np.concatenate([pts[i] for i in range(len(pts)) if root(i) == r])
        hull = _convex_hull(members)
        if len(hull) >= 3:
            out.append(hull)
    return out


def _convex_hull(p: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain; counter-clockwise (in x-right, y-up terms), no repeated end point."""
    pts = sorted({(round(float(x), 6), round(float(y), 6)) for x, y in p})
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for q in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    for q in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def scenario_has_layout(scenario) -> bool:
    """Whether the scene's own road layout is known (built-in layouts, recordings with an OpenDRIVE map): then the
    lane-based event detectors (wrong way, red light, jaywalking) ran over every actor."""
    return getattr(scenario, "kind", "builtin") == "builtin" or getattr(scenario, "xodr", None) is not None


def scenario_junctions(scenario) -> list[np.ndarray]:
    """Junction areas of a scenario's own road layout (built-in layouts, recordings with an OpenDRIVE map; the
    layouts are cached), else []."""
    if getattr(scenario, "kind", "builtin") == "builtin":
        from sdg.scenario.layout import build_layout

        layout = build_layout(scenario.layout, scenario.seed)
    elif getattr(scenario, "xodr", None) is not None:
        from sdg.scenario.opendrive import layout_from_xodr

        layout = layout_from_xodr(scenario.xodr)
    else:
        return []
    return junction_areas(layout.stop_lines())


def lamp_pixel(camera: Camera, track: ActorTrack, t: int) -> tuple[float, float, float] | None:
    """(u, v, radius px) of the lit lamp of a traffic-light track at clip frame t (its state's lamp), or None."""
    if track.states is None or t >= len(track.states):
        return None
    state = str(track.states[t]).lower()
    lamp = next((lp for lp in traffic_light_lamps(track.size) if lp[0] == state), None)
    if lamp is None:
        return None
    rot = rotation_matrices(np.array([[0.0, 0.0, float(track.yaw[t])]]))[0]
    p = track.center[t] + rot @ lamp[1]
    uv, z = camera.project(p[None])
    if z[0] <= 0:
        return None
    return float(uv[0, 0]), float(uv[0, 1]), float(lamp[2] * camera.focal / z[0])
