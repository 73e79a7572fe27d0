"""Writer of CARLA recorder files (`.log`, format version 1), the exact format `sdg.carla.recorder` reads
(format constants and records: sdg.carla.recorder_packets).

Used by the tests and to export sdg's built-in scenes as recordings CARLA users can replay
(`client.replay_file(...)`) or inspect (`client.show_recorder_file_info(...)`).

`write_recording` works in the file's own units (centimetres, degrees (roll, pitch, yaw), m/s); `scene_to_recording`
converts a `sdg.scene.Scene` (metres) to them. Like CARLA, every frame gets FrameStart, EventAdd, EventDel,
EventParent, Collision, Position, State (possibly with zero records) and FrameEnd; with `additional_data` also
Kinematics and BoundingBox.
"""
from __future__ import annotations

import os
import struct
import time as _time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from sdg.carla.recorder_packets import (
    BBOX_DTYPE,
    KIND_CODES,
    KINEMATICS_DTYPE,
    LIGHT_CODES,
    MAGIC,
    POSITION_DTYPE,
    STATE_DTYPE,
    Collision,
    EventAdd,
)
from sdg.scene import Scene

# carla.ActorAttributeType
ATTR_BOOL, ATTR_INT, ATTR_FLOAT, ATTR_STRING, ATTR_RGB = 0, 1, 2, 3, 4


@dataclass
class FrameRecord:
    """The content of one recorder frame, in the file's units.

    positions: rows (id, x, y, z cm, roll, pitch, yaw deg); states: rows (id, frozen, elapsed s, state code);
    kinematics: rows (id, vx, vy, vz m/s, wx, wy, wz deg/s); boxes: rows (id, origin xyz cm, extent xyz cm);
    extra: raw packets (id, payload bytes) written after the standard ones (for custom / newer packet ids).
    """

    elapsed: float
    frame: int | None = None  # default: index + 1
    added: list[EventAdd] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    parents: list[tuple[int, int]] = field(default_factory=list)
    collisions: list[Collision] = field(default_factory=list)
    positions: Sequence = ()
    states: Sequence = ()
    kinematics: Sequence = ()
    boxes: Sequence = ()
    extra: list[tuple[int, bytes]] = field(default_factory=list)


def _string(s: str) -> bytes:
    b = s.encode("utf-8")
    if len(b) > 0xFFFF:
        raise ValueError(f"string of {len(b)} bytes is too long for the recorder format (max 65535)")
    return struct.pack("<H", len(b)) + b


def _packet(pid: int, payload: bytes) -> bytes:
    return struct.pack("<BI", pid, len(payload)) + payload


def _records(rows, dtype: np.dtype, what: str) -> bytes:
    if isinstance(rows, np.ndarray) and rows.dtype.names:
        arr = rows.astype(dtype)
    else:
        rows = [tuple(r) for r in rows]
        for r in rows:
            if len(r) != len(dtype.names):
                raise ValueError(f"{what}: each row needs {len(dtype.names)} values {dtype.names}, got {r!r}")
        arr = np.array(rows, dtype=dtype) if rows else np.zeros(0, dtype)
    if len(arr) > 0xFFFF:
        raise ValueError(f"{what}: {len(arr)} records exceed the format's 65535 per packet")
    return struct.pack("<H", len(arr)) + arr.tobytes()


def encode_event_add(ev: EventAdd) -> bytes:
    out = [struct.pack("<IB", ev.id, ev.kind_code), struct.pack("<fff", *ev.location),
           struct.pack("<fff", *ev.rotation), struct.pack("<I", ev.uid), _string(ev.type_id),
           struct.pack("<H", len(ev.attributes))]
    for at, key, val in ev.attributes:
        out += [struct.pack("<B", at), _string(key), _string(val)]
    return b"".join(out)


def encode_header(map_name: str, date: int, version: int = 1) -> bytes:
    return struct.pack("<H", version) + _string(MAGIC) + struct.pack("<q", int(date)) + _string(map_name)


def write_recording(path: str | os.PathLike, map_name: str, frames: Sequence[FrameRecord], date: int | None = None,
                    additional_data: bool = True, version: int = 1) -> Path:
    """Write a recorder file. Each FrameStart's duration is the time to the next frame (the last frame repeats the
    previous step, or 0 for a single frame). Returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    date = int(_time.time()) if date is None else int(date)
    tmp = p.with_name(p.name + ".part")
    with open(tmp, "wb") as f:
        f.write(encode_header(map_name, date, version))
        for i, fr in enumerate(frames):
            if i + 1 < len(frames):
                dur = frames[i + 1].elapsed - fr.elapsed
            else:
                dur = fr.elapsed - frames[i - 1].elapsed if i > 0 else 0.0
            fid = i + 1 if fr.frame is None else fr.frame
            f.write(_packet(0, struct.pack("<Qdd", fid, dur, fr.elapsed)))
            f.write(_packet(2, struct.pack("<H", len(fr.added)) + b"".join(encode_event_add(e) for e in fr.added)))
            f.write(_packet(3, struct.pack("<H", len(fr.deleted)) + b"".join(struct.pack("<I", d)
                                                                             for d in fr.deleted)))
            f.write(_packet(4, struct.pack("<H", len(fr.parents)) + b"".join(struct.pack("<II", c, par)
                                                                             for c, par in fr.parents)))
            f.write(_packet(5, struct.pack("<H", len(fr.collisions)) + b"".join(
                struct.pack("<IIIBB", c.id, c.actor1, c.actor2, int(c.hero1), int(c.hero2)) for c in fr.collisions)))
            f.write(_packet(6, _records(fr.positions, POSITION_DTYPE, f"frame {fid} positions")))
            f.write(_packet(7, _records(fr.states, STATE_DTYPE, f"frame {fid} states")))
            if additional_data:
                f.write(_packet(12, _records(fr.kinematics, KINEMATICS_DTYPE, f"frame {fid} kinematics")))
                f.write(_packet(13, _records(fr.boxes, BBOX_DTYPE, f"frame {fid} bounding boxes")))
            for pid, payload in fr.extra:
                f.write(_packet(pid, payload))
            f.write(_packet(1, b""))
    os.replace(tmp, p)
    return p


# ------------------------------------------------------------------------------------------- scene export
_CATEGORY_KIND = {"pedestrian": "walker", "traffic_light": "traffic_light", "traffic_sign": "traffic_sign"}


def _kind_of(category: str) -> str:
    return _CATEGORY_KIND.get(category, "vehicle")


def _light_elapsed(states: list[str], times: np.ndarray) -> np.ndarray:
    """Seconds each frame has spent in its current state."""
    out = np.zeros(len(states))
    since = float(times[0])
    for k in range(len(states)):
        if k > 0 and states[k] != states[k - 1]:
            since = float(times[k])
        out[k] = float(times[k]) - since
    return out


def scene_to_recording(scene: Scene, path: str | os.PathLike, date: int | None = None,
                       additional_data: bool = True) -> Path:
    """Export a scene's actors as a recorder file: every actor appears (EventAdd) in the first frame and moves
    (Position) every frame; traffic-light states, kinematics and bounding boxes (half extents, box offset as the
    box origin) are written; collision events become Collision records on every frame of their span.

    Walkers are written with their origin at their box centre (CARLA's walker origin is the capsule centre), so the
    exported file places them correctly in CARLA; other actors keep their ground origin. Times are shifted so that
    the first frame has elapsed 0. Props (static scenery) are not actors and are not written."""
    times = np.asarray(scene.times, np.float64)
    if len(times) == 0:
        raise ValueError(f"scene {scene.name!r} has no frames to export")
    t_rel = times - times[0]
    T = len(times)
    poses_cm: dict[int, np.ndarray] = {}
    adds: list[EventAdd] = []
    boxes = []
    for a in scene.actors:
        poses = np.asarray(a.poses, np.float64)
        if poses.shape != (T, 6):
            raise ValueError(f"scene {scene.name!r}: actor {a.id} has poses {poses.shape}, expected {(T, 6)}")
        kind = _kind_of(a.category)
        offset = np.asarray(a.box_offset, np.float64)
        if kind == "walker" and np.any(offset != 0):
            loc = a.box_centers()
            offset = np.zeros(3)
        else:
            loc = poses[:, :3]
        p = np.concatenate([loc * 100.0, poses[:, 3:6]], axis=1)
        poses_cm[a.id] = p
        attrs = [(ATTR_STRING, "role_name", "autopilot" if kind == "vehicle" else kind)]
        if kind == "vehicle":
            attrs.append((ATTR_RGB, "color", ",".join(str(int(c)) for c in a.color)))
        adds.append(EventAdd(int(a.id), KIND_CODES[kind], tuple(p[0, :3]), tuple(p[0, 3:]), 0, a.type_id,
                             tuple(attrs)))
        half = np.asarray(a.size, np.float64) * 50.0
        boxes.append((int(a.id), *(offset * 100.0), *half))
    vel = {a.id: a.velocities(times) for a in scene.actors}
    yaw_rate = {}
    for a in scene.actors:
        if T > 1:
            yaw = np.unwrap(np.radians(np.asarray(a.poses, np.float64)[:, 5]))
            yaw_rate[a.id] = np.degrees(np.gradient(yaw, times))
        else:
            yaw_rate[a.id] = np.zeros(T)
    light_elapsed = {a.id: _light_elapsed(a.states, times) for a in scene.actors
                     if a.category == "traffic_light" and a.states}
    coll_frames: dict[int, list[Collision]] = {}
    cid = 0
    for ev in scene.events:
        if ev.kind != "collision" or len(ev.actor_ids) < 2:
            continue
        a1, a2 = int(ev.actor_ids[0]), int(ev.actor_ids[1])
        ks = np.flatnonzero((times >= ev.t_start - 1e-9) & (times <= ev.t_end + 1e-9))
        if len(ks) == 0:
            ks = [int(np.clip(np.searchsorted(times, ev.t_start), 0, T - 1))]
        for k in ks:
            coll_frames.setdefault(int(k), []).append(Collision(cid, a1, a2, False, False))
        cid += 1
    frames = []
    for k in range(T):
        states = [(a.id, 0, float(light_elapsed[a.id][k]), LIGHT_CODES.get(a.states[k], 4))
                  for a in scene.actors if a.id in light_elapsed]
        kin = [(a.id, *vel[a.id][k], 0.0, 0.0, float(yaw_rate[a.id][k])) for a in scene.actors]
        frames.append(FrameRecord(
            elapsed=float(t_rel[k]),
            added=adds if k == 0 else [],
            collisions=coll_frames.get(k, []),
            positions=[(aid, *poses_cm[aid][k]) for aid in poses_cm],
            states=states,
            kinematics=kin,
            boxes=boxes if k == 0 else [],
        ))
    return write_recording(path, scene.map_name, frames, date=date, additional_data=additional_data)

