"""Project a scene's lights into a camera, per frame, for the night looks of the built-in augmenter.

Each frame gets a float32 array (N, 7) of rows ``u, v, z, r, g, b, intensity``:
- ``u, v``: pixel coordinates in sdg.geometry's continuous convention (pixel centres at +0.5);
- ``z``: planar depth of the light in metres (OpenCV camera z, > 0: only lights in front of the camera are kept);
- ``r, g, b``: colour 0..255;
- ``intensity``: > 0 for a visible emitter (street lamp, headlight, tail light), drawn as a source with bloom and
  lighting its surroundings. Vehicle lamps are directional: their intensity is scaled by
  ``sqrt(cos)`` of the angle between the lamp's axis (forward for headlights, backward for tail lights) and the
  direction to the camera, and lamps facing away from the camera (cos <= 0.05) are left out.
  Intensity < 0 marks a *beam spot*: a point on the road ahead of a headlight that is lit by the beam, with no
  visible emitter of its own; the augmenter lights the surroundings of such a row with |intensity| and draws no
  glare. A chain of spots along each headlight pair's axis draws the light cone on the road.

Sources:
- ``scene.lights`` with ``actor_id == 0``: world positions (street lamps).
- ``scene.lights`` with ``actor_id != 0``: positions local to that actor, following its pose each frame.
- traffic lights: the lamp of the light's state at each frame, facing the light's +x (as drawn by sdg.render.actors):
  seen only from the front, so a night look shows the colour exactly where the lit face is towards the camera.
- moving vehicles (any car/van/truck/bus/motorcycle whose speed exceeds ``MOVING_SPEED`` at some frame of the clip,
  so cars waiting at a red light keep their lights on) get derived lamps unless the scene already lists lights
  attached to them: two headlights at the front corners ~0.7 m above the ground, two red tail lights at the rear
  corners (one of each, centred, for motorcycles), plus beam spots on the road ahead of the headlights.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from sdg.geometry import Camera, rotation_matrices
from sdg.render.actors import traffic_light_lamps
from sdg.scene import Actor, Scene

MOVING_SPEED = 0.5  # m/s
LIGHTED_CATEGORIES = ("car", "van", "truck", "bus", "motorcycle")
HEADLIGHT_COLOR = (255, 244, 222)
TAILLIGHT_COLOR = (255, 28, 18)
HEADLIGHT_INTENSITY = 1.0
TAILLIGHT_INTENSITY = 0.3
SIGNAL_COLORS = {"red": (255, 40, 28), "yellow": (255, 196, 40), "green": (60, 255, 130)}
SIGNAL_INTENSITY = 0.35  # a signal lamp is a small, bright disc: a visible source with a short bloom
HEADLIGHT_HEIGHT = 0.7  # metres above the box bottom
TAILLIGHT_HEIGHT = 0.85
CORNER_INSET = 0.25  # metres in from the box side
# Beam spots along a headlight pair's axis: (distance ahead of the front bumper m, height above the road m,
# relative intensity). Spots rise and thin out with distance so that their overlapping pools widen and fade like a
# low-beam cone on the road.
BEAM_SPOTS = tuple((a, 0.35 + 0.05 * a, 0.45 / (1.0 + (a / 16.0) ** 2)) for a in (2.0, 4.5, 7.0, 10.0, 13.5, 17.5, 22.0,
                                                                               27.0))


FORWARD = np.array([1.0, 0.0, 0.0])
BACKWARD = np.array([-1.0, 0.0, 0.0])
Lamp = tuple  # (position (3,), colour (r, g, b), intensity, local axis (3,) or None for an omnidirectional lamp)


def _vehicle_lamps(actor: Actor) -> list[Lamp]:
    """Actor-local lamps of a vehicle: positions (m), colours, intensities, axes; beam spots have intensity < 0."""
    l, w, h = (float(x) for x in actor.size)
    bo = np.asarray(actor.box_offset, dtype=np.float64)
    bottom = bo[2] - h / 2.0
    front, rear = bo[0] + l / 2.0, bo[0] - l / 2.0
    if actor.category == "motorcycle":
        sides = [bo[1]]
    else:
        half = max(w / 2.0 - CORNER_INSET, 0.1)
        sides = [bo[1] - half, bo[1] + half]
    head_z = bottom + min(HEADLIGHT_HEIGHT, 0.8 * h)
    tail_z = bottom + min(TAILLIGHT_HEIGHT, 0.85 * h)
    lamps = []
    for s in sides:
        lamps.append((np.array([front, s, head_z]), HEADLIGHT_COLOR, HEADLIGHT_INTENSITY, FORWARD))
        lamps.append((np.array([rear, s, tail_z]), TAILLIGHT_COLOR, TAILLIGHT_INTENSITY, BACKWARD))
    # the two beams overlap on the road ahead: one chain of spots on the vehicle's centre line stands for both
    for ahead, height, rel in BEAM_SPOTS:
        lamps.append((np.array([front + ahead, bo[1], bottom + height]), HEADLIGHT_COLOR,
                      -HEADLIGHT_INTENSITY * rel, None))
    return lamps


def _is_moving(actor: Actor, times: np.ndarray) -> bool:
    if actor.poses.shape[0] < 2:
        return False
    v = actor.velocities(np.asarray(times, dtype=np.float64))
    return bool((np.linalg.norm(v[:, :2], axis=1) > MOVING_SPEED).any())


def scene_light_sources(scene: Scene) -> list[tuple[int, Lamp]]:
    """All lamps of the scene as (actor_id, lamp); positions and axes are world when actor_id == 0, else local to
    the actor. Scene lights of kind "headlight" / "taillight" attached to an actor point forward / backward."""
    out: list[tuple[int, Lamp]] = []
    attached = set()
    for li in scene.lights:
        axis = None
        if li.actor_id and li.kind == "headlight":
            axis = FORWARD
        elif li.actor_id and li.kind == "taillight":
            axis = BACKWARD
        out.append((int(li.actor_id), (np.asarray(li.position, dtype=np.float64), tuple(li.color),
                                       float(li.intensity), axis)))
        if li.actor_id:
            attached.add(int(li.actor_id))
    for a in scene.actors:
        if a.category in LIGHTED_CATEGORIES and a.id not in attached and _is_moving(a, scene.times):
            for lamp in _vehicle_lamps(a):
                out.append((a.id, lamp))
    return out


def _signal_lamps(scene: Scene) -> list[tuple[int, list[Lamp], list[str]]]:
    """The lamps of every traffic light with per-frame states: (actor id, its three lamps (actor-local, facing +x,
    in their lit colours), their state names). A frame shows the lamp of the light's state at that frame."""
    out = []
    for a in scene.actors:
        if a.category != "traffic_light" or not a.states:
            continue
        bo = np.asarray(a.box_offset, dtype=np.float64)
        lamps, names = [], []
        for name, face, _radius, _depth in traffic_light_lamps(a.size):
            lamps.append((face + bo, SIGNAL_COLORS[name], SIGNAL_INTENSITY, FORWARD))
            names.append(name)
        out.append((a.id, lamps, names))
    return out


def project_lights(scene: Scene, camera: Camera, frame_indices: Sequence[int], margin: float = 0.25
                   ) -> list[np.ndarray]:
    """Per requested scene frame, the (N, 7) float32 rows ``u, v, z, r, g, b, intensity`` of the lights in front of
    the camera (z > 0.1 m) whose projection falls inside the image grown by ``margin`` × its size on every side
    (lamps just off-screen still light the visible road)."""
    sources = scene_light_sources(scene)
    n_frames = len(scene.times)
    actors = {a.id: a for a in scene.actors}
    for aid, _ in sources:
        if aid and aid not in actors:
            raise ValueError(f"scene {scene.name!r}: a light is attached to actor {aid}, which is not in the scene")
    idx = [int(i) for i in frame_indices]
    for i in idx:
        if not 0 <= i < n_frames:
            raise IndexError(f"frame index {i} outside the scene's {n_frames} frames")
    groups: dict = {}
    for aid, lamp in sources:
        groups.setdefault(aid, []).append(lamp)
    # a traffic light's lit lamp is an emitter too (so night looks show its colour); one group per light, its
    # lamps switched by the light's state per frame
    signal_state = {}
    for aid, lamps, names in _signal_lamps(scene):
        groups[("signal", aid)] = lamps
        signal_state[("signal", aid)] = (names, actors[aid].states)
    packed = {}
    for key, lamps in groups.items():
        aid = key[1] if isinstance(key, tuple) else key
        pos = np.array([lp[0] for lp in lamps], dtype=np.float64).reshape(-1, 3)
        attr = np.array([[*lp[1], lp[2]] for lp in lamps], dtype=np.float64).reshape(-1, 4)
        axis = np.array([lp[3] if lp[3] is not None else (0.0, 0.0, 0.0) for lp in lamps], np.float64).reshape(-1, 3)
        rots = rotation_matrices(actors[aid].poses[:, 3:6]) if aid else None
        packed[key] = (aid, pos, attr, axis, rots)
    cam_pos = np.asarray(camera.location, dtype=np.float64)
    mu, mv = margin * camera.width, margin * camera.height
    out = []
    for i in idx:
        ps, ats = [], []
        for key, (aid, pos, attr, axis, rots) in packed.items():
            if aid:
                pose = actors[aid].poses[min(i, len(actors[aid].poses) - 1)]
                r = rots[min(i, len(rots) - 1)]
                wpos, waxis = pos @ r.T + pose[:3], axis @ r.T
            else:
                wpos, waxis = pos, axis
            a = attr.copy()
            if key in signal_state:
                names, states = signal_state[key]
                lit = np.array([n == str(states[min(i, len(states) - 1)]).lower() for n in names])
                wpos, waxis, a = wpos[lit], waxis[lit], a[lit]
            directional = np.any(waxis != 0.0, axis=1)
            if directional.any():
                to_cam = cam_pos - wpos
                to_cam /= np.maximum(np.linalg.norm(to_cam, axis=1, keepdims=True), 1e-9)
                cos = np.sum(to_cam * waxis, axis=1)
                a[directional, 3] *= np.sqrt(np.clip(cos[directional], 0.0, 1.0))
                keep = ~directional | (cos > 0.05)
                wpos, a = wpos[keep], a[keep]
            ps.append(wpos)
            ats.append(a)
        p = np.concatenate(ps) if ps else np.zeros((0, 3))
        a = np.concatenate(ats) if ats else np.zeros((0, 4))
        if len(p) == 0:
            out.append(np.zeros((0, 7), dtype=np.float32))
            continue
        uv, z = camera.project(p)
        keep = (z > 0.1) & (uv[:, 0] >= -mu) & (uv[:, 0] <= camera.width + mu) & (uv[:, 1] >= -mv) & (
            uv[:, 1] <= camera.height + mv)
        out.append(np.concatenate([uv[keep], z[keep, None], a[keep]], axis=1).astype(np.float32))
    return out
