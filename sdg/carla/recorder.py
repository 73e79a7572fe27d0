"""Streaming reader of CARLA recorder files (`.log`, CARLA 0.9.x, format version 1). No `carla` import, no server.

    read_header(path) -> Header
    iter_packets(path, decode=...) -> Iterator[Packet]     every packet in file order, decoded or skipped by size
    load_recording(path, start, end) -> Recording          a summary: actors, collisions, tracks (METRES)
    trajectories(rec, times) / sample_poses / states_at    poses and light states sampled at given times

The file format, the packet records and their decoding are in sdg.carla.recorder_packets (units as stored there:
centimetres, degrees); its public names are re-exported here. `load_recording` and `trajectories` convert positions
to METRES; the raw packet objects of `iter_packets` keep the file's units.

The reader never holds the file in memory: it reads one packet at a time and seeks past packets it does not decode.
Errors are `RecorderError`s naming the file, the byte offset and the packet id.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Container, Iterator

import numpy as np

from sdg.carla.recorder_packets import (
    ACTOR_KINDS,
    BBOX_DTYPE,
    DECODED_IDS,
    HINT_CORRUPT,
    HINT_TRUNCATED,
    KIND_CODES,
    KINEMATICS_DTYPE,
    LIGHT_CODES,
    LIGHT_STATES,
    MAGIC,
    PACKET_HEADER,
    PACKET_NAMES,
    POSITION_DTYPE,
    STATE_DTYPE,
    Collision,
    EventAdd,
    FrameStart,
    Header,
    Packet,
    RecorderError,
    decode_header,
    decode_payload,
    read_exact,
)
from sdg.geometry import rotation_matrices, wrap_degrees

__all__ = [
    # the reader
    "read_header", "iter_packets", "load_recording", "Recording", "ActorInfo", "Track", "CollisionRecord",
    "sample_poses", "trajectories", "states_at",
    # re-exported from sdg.carla.recorder_packets
    "MAGIC", "PACKET_NAMES", "DECODED_IDS", "ACTOR_KINDS", "KIND_CODES", "LIGHT_STATES", "LIGHT_CODES",
    "POSITION_DTYPE", "STATE_DTYPE", "KINEMATICS_DTYPE", "BBOX_DTYPE", "RecorderError", "Header", "FrameStart",
    "EventAdd", "Collision", "Packet",
]


def read_header(path: str | os.PathLike) -> Header:
    """The file header. Raises RecorderError for a short file or a bad magic."""
    p = Path(path)
    with open(p, "rb") as f:
        return decode_header(f, p, os.fstat(f.fileno()).st_size)


def iter_packets(path: str | os.PathLike, decode: Container[int] = DECODED_IDS,
                 allow_truncated: bool = False) -> Iterator[Packet]:
    """Yield every packet in file order. Packets whose id is in `decode` (and known) are decoded, the others are
    skipped by size (`data=None`). A truncated tail raises RecorderError unless `allow_truncated`, in which case
    iteration simply stops before the incomplete packet."""
    p = Path(path)
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = decode_header(f, p, size)
        pos = header.size
        while pos < size:
            if pos + 5 > size:
                if allow_truncated:
                    return
                pid = read_exact(f, 1)[0]
                raise RecorderError(p, pos, pid, f"packet header cut off: {size - pos} of 5 bytes present",
                                    HINT_TRUNCATED)
            pid, psize = PACKET_HEADER.unpack(read_exact(f, 5))
            end = pos + 5 + psize
            if end > size:
                if allow_truncated:
                    return
                raise RecorderError(p, pos, pid, f"declared size {psize} bytes but only {size - pos - 5} remain in "
                                    "the file", HINT_TRUNCATED)
            if pid in DECODED_IDS and pid in decode:
                yield Packet(pid, pos, psize, decode_payload(pid, read_exact(f, psize), p, pos))
            else:
                f.seek(psize, os.SEEK_CUR)
                yield Packet(pid, pos, psize, None)
            pos = end


# --------------------------------------------------------------------------------------------- summary
@dataclass
class ActorInfo:
    """An actor of the recording. Frames are indices into Recording.frame_ids / Recording.times."""

    id: int
    type_id: str
    kind: str  # ACTOR_KINDS value
    attributes: dict[str, str]
    first_frame: int  # index of the frame whose EventAdd created it
    last_frame: int  # last index at which it exists (the frame before its EventDel, else the last frame)
    spawn: np.ndarray  # (6,) x, y, z metres, roll, pitch, yaw degrees
    uid: int = 0
    parent: int | None = None
    deleted: bool = False


@dataclass
class Track:
    """Samples of one actor: frame indices, times (s) and values (poses: (K,6) metres + degrees)."""

    frame_index: np.ndarray
    times: np.ndarray
    values: np.ndarray


@dataclass
class CollisionRecord:
    frame: int  # frame index
    time: float
    id: int
    actor1: int
    actor2: int
    hero1: bool
    hero2: bool


@dataclass
class Recording:
    path: Path
    header: Header
    frame_ids: np.ndarray  # (N,) the file's frame counters
    times: np.ndarray  # (N,) seconds (FrameStart.elapsed)
    actors: dict[int, ActorInfo]
    collisions: list[CollisionRecord]
    positions: dict[int, Track]  # poses in metres / degrees
    light_states: dict[int, Track]  # values (K,) uint8 LIGHT_STATES codes
    kinematics: dict[int, Track]  # values (K,6): velocity m/s, angular velocity deg/s
    bounding_boxes: dict[int, np.ndarray]  # (6,) origin xyz, extent (half size) xyz, CENTIMETRES as in the file
    window: tuple[float, float] | None = None  # samples kept only for times in this window (+ margin)
    notes: list[str] = field(default_factory=list)

    @property
    def map_name(self) -> str:
        return self.header.map_name

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0

    @property
    def fps(self) -> float:
        """Median frame rate (0 with fewer than two frames)."""
        if len(self.times) < 2:
            return 0.0
        d = float(np.median(np.diff(self.times)))
        return 1.0 / d if d > 0 else 0.0


def _group(chunks: list[tuple[int, np.ndarray]], times: np.ndarray, fields: list[str]) -> dict[int, Track]:
    if not chunks:
        return {}
    fidx = np.concatenate([np.full(len(a), k, np.int64) for k, a in chunks])
    recs = np.concatenate([a for _, a in chunks])
    vals = np.stack([recs[f].astype(np.float64) for f in fields], axis=1) if len(fields) > 1 else \
        recs[fields[0]].copy()
    order = np.argsort(recs["id"], kind="stable")
    ids, fidx, vals = recs["id"][order], fidx[order], vals[order]
    out: dict[int, Track] = {}
    cuts = np.flatnonzero(np.diff(ids)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ids)]):
        fi = fidx[lo:hi]
        out[int(ids[lo])] = Track(fi, times[fi], vals[lo:hi])
    return out


def load_recording(path: str | os.PathLike, start: float | None = None, end: float | None = None,
                   allow_truncated: bool = False, margin: float = 1.0) -> Recording:
    """Read a recorder file into a summary. With `start`/`end` (seconds of the recording) only samples within
    [start - margin, end + margin] are kept and reading stops after end + margin (actors and collisions before that
    are still complete); without them everything is kept. Positions are converted to metres."""
    p = Path(path)
    header = read_header(p)
    lo = -np.inf if start is None else float(start) - margin
    hi = np.inf if end is None else float(end) + margin
    frame_ids: list[int] = []
    times: list[float] = []
    actors: dict[int, ActorInfo] = {}
    collisions: list[tuple[int, Collision]] = []
    pos_chunks: list[tuple[int, np.ndarray]] = []
    st_chunks: list[tuple[int, np.ndarray]] = []
    kin_chunks: list[tuple[int, np.ndarray]] = []
    boxes: dict[int, np.ndarray] = {}
    notes: list[str] = []
    deleted_at: dict[int, int] = {}
    k = -1
    keep = False
    in_frame = False
    stopped_early = False
    for pkt in iter_packets(p, allow_truncated=allow_truncated):
        pid = pkt.id
        if pid == 0:
            fs: FrameStart = pkt.data
            if fs.elapsed > hi:
                stopped_early = True
                break
            k += 1
            frame_ids.append(fs.frame)
            times.append(fs.elapsed)
            keep = lo <= fs.elapsed <= hi
            in_frame = True
            continue
        if pid == 1:
            in_frame = False
            continue
        if pkt.data is None:
            continue
        if k < 0:
            raise RecorderError(p, pkt.offset, pid, "data packet before the first FrameStart", HINT_CORRUPT)
        if pid == 2:
            for ev in pkt.data:
                if ev.id in actors and not actors[ev.id].deleted:
                    notes.append(f"frame {frame_ids[k]}: actor {ev.id} added twice; keeping the first")
                    continue
                loc = np.asarray(ev.location, np.float64) / 100.0
                actors[ev.id] = ActorInfo(
                    id=ev.id, type_id=ev.type_id, kind=ev.kind, attributes={a[1]: a[2] for a in ev.attributes},
                    first_frame=k, last_frame=-1, spawn=np.r_[loc, np.asarray(ev.rotation, np.float64)], uid=ev.uid,
                )
                deleted_at.pop(ev.id, None)
        elif pid == 3:
            for aid in pkt.data:
                if aid in actors:
                    actors[aid].deleted = True
                    deleted_at[aid] = k
                else:
                    notes.append(f"frame {frame_ids[k]}: deletion of unknown actor {aid}")
        elif pid == 4:
            for child, parent in pkt.data:
                if child in actors:
                    actors[child].parent = parent
        elif pid == 5:
            collisions.extend((k, c) for c in pkt.data)
        elif pid == 13:
            for r in pkt.data:
                boxes.setdefault(int(r["id"]), np.array([r[f] for f in ("ox", "oy", "oz", "ex", "ey", "ez")],
                                                        np.float64))
        elif keep and len(pkt.data):
            {6: pos_chunks, 7: st_chunks, 12: kin_chunks}[pid].append((k, pkt.data))
    if k >= 0 and in_frame and not stopped_early:
        notes.append(f"last frame {frame_ids[k]} has no FrameEnd (file cut off)")
    t = np.asarray(times, np.float64)
    n = len(t)
    for aid, a in actors.items():
        a.last_frame = max(a.first_frame, deleted_at[aid] - 1) if aid in deleted_at else n - 1
    positions = _group(pos_chunks, t, ["x", "y", "z", "roll", "pitch", "yaw"])
    for tr in positions.values():
        tr.values[:, :3] /= 100.0
    rec = Recording(
        path=p, header=header, frame_ids=np.asarray(frame_ids, np.int64), times=t, actors=actors,
        collisions=[CollisionRecord(kk, float(t[kk]), c.id, c.actor1, c.actor2, c.hero1, c.hero2)
                    for kk, c in collisions],
        positions=positions,
        light_states=_group(st_chunks, t, ["state"]),
        kinematics=_group(kin_chunks, t, ["vx", "vy", "vz", "wx", "wy", "wz"]),
        bounding_boxes=boxes,
        window=None if start is None and end is None else (lo, hi),
        notes=notes,
    )
    return rec


# --------------------------------------------------------------------------------------------- sampling
def _matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(N,3,3) proper rotations -> (N,4) unit quaternions (w, x, y, z), numerically stable branch per row."""
    n = m.shape[0]
    q = np.empty((n, 4))
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    best = np.argmax(cand, axis=1)
    for b in range(4):
        s = best == b
        if not np.any(s):
            continue
        r = m[s]
        if b == 0:
            w = np.sqrt(np.maximum(1.0 + tr[s], 1e-300)) / 2.0
            q[s] = np.stack([w, (r[:, 2, 1] - r[:, 1, 2]) / (4 * w), (r[:, 0, 2] - r[:, 2, 0]) / (4 * w),
                             (r[:, 1, 0] - r[:, 0, 1]) / (4 * w)], axis=1)
        else:
            i = b - 1
            j, kk = (i + 1) % 3, (i + 2) % 3
            v = np.sqrt(np.maximum(1.0 + r[:, i, i] - r[:, j, j] - r[:, kk, kk], 1e-300)) / 2.0
            qq = np.empty((len(r), 4))
            qq[:, 0] = (r[:, kk, j] - r[:, j, kk]) / (4 * v)
            qq[:, 1 + i] = v
            qq[:, 1 + j] = (r[:, j, i] + r[:, i, j]) / (4 * v)
            qq[:, 1 + kk] = (r[:, kk, i] + r[:, i, kk]) / (4 * v)
            q[s] = qq
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    m = np.empty((len(q), 3, 3))
    m[:, 0, 0] = 1 - 2 * (y * y + z * z)
    m[:, 0, 1] = 2 * (x * y - z * w)
    m[:, 0, 2] = 2 * (x * z + y * w)
    m[:, 1, 0] = 2 * (x * y + z * w)
    m[:, 1, 1] = 1 - 2 * (x * x + z * z)
    m[:, 1, 2] = 2 * (y * z - x * w)
    m[:, 2, 0] = 2 * (x * z - y * w)
    m[:, 2, 1] = 2 * (y * z + x * w)
    m[:, 2, 2] = 1 - 2 * (x * x + y * y)
    return m


def _matrix_to_rpy(m: np.ndarray) -> np.ndarray:
    """Inverse of sdg.geometry.rotation_matrices: (N,3,3) -> (N,3) roll, pitch, yaw degrees (yaw in (-180, 180])."""
    sp = np.clip(m[:, 2, 0], -1.0, 1.0)
    pitch = np.arcsin(sp)
    cp = np.sqrt(np.maximum(0.0, 1.0 - sp * sp))
    ok = cp > 1e-9
    yaw = np.where(ok, np.arctan2(m[:, 1, 0], m[:, 0, 0]), np.arctan2(-m[:, 0, 1], m[:, 1, 1]))
    roll = np.where(ok, np.arctan2(-m[:, 2, 1], m[:, 2, 2]), 0.0)
    return wrap_degrees(np.degrees(np.stack([roll, pitch, yaw], axis=1)))


def sample_poses(track_times: np.ndarray, poses: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Poses (K,6) sampled at `times` (T,): positions linear, rotations by quaternion slerp (the short way),
    held constant before the first and after the last sample. Angles returned wrapped to (-180, 180]."""
    tt = np.asarray(track_times, np.float64)
    t = np.asarray(times, np.float64)
    poses = np.asarray(poses, np.float64)
    if len(tt) == 0:
        raise ValueError("sample_poses: the track has no samples")
    if len(tt) == 1:
        out = np.repeat(poses[:1], len(t), axis=0)
        out[:, 3:] = wrap_degrees(out[:, 3:])
        return out
    tc = np.clip(t, tt[0], tt[-1])
    i1 = np.clip(np.searchsorted(tt, tc, side="right"), 1, len(tt) - 1)
    i0 = i1 - 1
    dt = tt[i1] - tt[i0]
    a = np.where(dt > 0, (tc - tt[i0]) / np.where(dt > 0, dt, 1.0), 1.0)
    pos = poses[i0, :3] + a[:, None] * (poses[i1, :3] - poses[i0, :3])
    q = _matrix_to_quat(rotation_matrices(poses[:, 3:6]))
    q0, q1 = q[i0], q[i1].copy()
    d = np.sum(q0 * q1, axis=1)
    q1[d < 0] *= -1.0
    d = np.abs(d)
    theta = np.arccos(np.clip(d, -1.0, 1.0))
    sin_t = np.sin(theta)
    small = sin_t < 1e-9
    w0 = np.where(small, 1.0 - a, np.sin((1.0 - a) * theta) / np.where(small, 1.0, sin_t))
    w1 = np.where(small, a, np.sin(a * theta) / np.where(small, 1.0, sin_t))
    qi = w0[:, None] * q0 + w1[:, None] * q1
    qi /= np.linalg.norm(qi, axis=1, keepdims=True)
    rpy = _matrix_to_rpy(_quat_to_matrix(qi))
    # exact samples keep their recorded angles (no round-trip noise)
    exact = a == 0.0
    rpy[exact] = wrap_degrees(poses[i0[exact], 3:6])
    exact1 = a == 1.0
    rpy[exact1] = wrap_degrees(poses[i1[exact1], 3:6])
    return np.concatenate([pos, rpy], axis=1)


def trajectories(rec: Recording, times, actor_ids=None) -> dict[int, np.ndarray]:
    """Per actor (T,6) poses (x, y, z metres, roll, pitch, yaw degrees) at `times` (seconds of the recording).
    Linear position interpolation, quaternion slerp for rotation, held before the first / after the last sample.
    Actors without any Position sample in the kept data are left out."""
    ids = rec.positions.keys() if actor_ids is None else [i for i in actor_ids if i in rec.positions]
    return {int(i): sample_poses(rec.positions[i].times, rec.positions[i].values, times) for i in ids}


def states_at(track: Track, times) -> list[str]:
    """Traffic-light state names at `times`: the latest sample at or before t (the first sample before it)."""
    t = np.asarray(times, np.float64)
    i = np.clip(np.searchsorted(track.times, t, side="right") - 1, 0, len(track.times) - 1)
    return [LIGHT_STATES.get(int(c), "unknown") for c in np.asarray(track.values)[i]]
