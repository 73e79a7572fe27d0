"""CARLA recorder file format (`.log`, CARLA 0.9.x, format version 1): constants, the packet records and their
decoding from bytes. The streaming reader built on it is sdg.carla.recorder; the writer is sdg.carla.writer.

File layout (little-endian, packed; see DESIGN.md §4):
  header  = uint16 version, string magic "CARLA_RECORDER", int64 unix time, string map name
  packets = (uint8 id, uint32 size, `size` payload bytes) until EOF; a string is uint16 length + UTF-8 bytes.

Units as stored: locations and box extents in CENTIMETRES, rotations in degrees as (roll, pitch, yaw) (the X, Y, Z
of Unreal's `FQuat::Euler()`), kinematic velocities in m/s and angular velocities in deg/s. The records here keep
the file's units.

A decoded payload must be consumed exactly; anything else is a `RecorderError` naming the file, the byte offset and
the packet id.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

MAGIC = "CARLA_RECORDER"

PACKET_NAMES = {
    0: "FrameStart", 1: "FrameEnd", 2: "EventAdd", 3: "EventDel", 4: "EventParent", 5: "Collision",
    6: "Position", 7: "State", 8: "AnimVehicle", 9: "AnimWalker", 10: "VehicleLight", 11: "SceneLight",
    12: "Kinematics", 13: "BoundingBox", 14: "PlatformTime", 15: "PhysicsControl", 16: "TrafficLightTime",
    17: "TriggerVolume", 18: "FrameCounter", 19: "WalkerBones", 20: "VisualTime", 21: "VehicleDoor",
    22: "AnimVehicleWheels", 23: "AnimBiker",
}
DECODED_IDS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 12, 13})

# EventAdd actor type (CARLA's FCarlaActor::ActorType)
ACTOR_KINDS = {0: "other", 1: "vehicle", 2: "walker", 3: "traffic_light", 4: "traffic_sign", 5: "sensor"}
KIND_CODES = {v: k for k, v in ACTOR_KINDS.items()}
# State packet `char state` (carla.TrafficLightState)
LIGHT_STATES = {0: "red", 1: "yellow", 2: "green", 3: "off", 4: "unknown"}
LIGHT_CODES = {v: k for k, v in LIGHT_STATES.items()}

# Fixed-size records of the list packets, exactly as packed in the file.
POSITION_DTYPE = np.dtype(
    [("id", "<u4"), ("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("roll", "<f4"), ("pitch", "<f4"), ("yaw", "<f4")]
)
STATE_DTYPE = np.dtype([("id", "<u4"), ("frozen", "u1"), ("elapsed", "<f4"), ("state", "u1")])
KINEMATICS_DTYPE = np.dtype(
    [("id", "<u4"), ("vx", "<f4"), ("vy", "<f4"), ("vz", "<f4"), ("wx", "<f4"), ("wy", "<f4"), ("wz", "<f4")]
)
BBOX_DTYPE = np.dtype(
    [("id", "<u4"), ("ox", "<f4"), ("oy", "<f4"), ("oz", "<f4"), ("ex", "<f4"), ("ey", "<f4"), ("ez", "<f4")]
)
_FIXED = {6: POSITION_DTYPE, 7: STATE_DTYPE, 12: KINEMATICS_DTYPE, 13: BBOX_DTYPE}
PACKET_HEADER = struct.Struct("<BI")  # packet id, payload size
_COLLISION = struct.Struct("<IIIBB")
_FRAME = struct.Struct("<Qdd")


class RecorderError(ValueError):
    """A recorder file that cannot be read. `offset` is the byte offset of the offending packet (or field)."""

    def __init__(self, path, offset: int, packet_id: int | None, problem: str, hint: str = ""):
        self.path, self.offset, self.packet_id, self.problem = str(path), int(offset), packet_id, problem
        pkt = "header" if packet_id is None else f"packet id {packet_id} ({PACKET_NAMES.get(packet_id, 'unknown')})"
        msg = f"{path}: byte offset {offset}, {pkt}: {problem}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


HINT_TRUNCATED = ("The file ends inside a packet (recording interrupted or copy incomplete); re-copy or re-record "
                   "it, or load it with allow_truncated=True to use the frames before this point")
HINT_CORRUPT = ("The file is corrupt or not a CARLA 0.9.x recorder log; check it with "
                 "`sdg log-info FILE` or CARLA's client.show_recorder_file_info()")


# --------------------------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Header:
    version: int
    magic: str
    date: int  # unix time (s) when recording started
    map_name: str
    size: int  # bytes of the header; the first packet starts here


@dataclass(frozen=True)
class FrameStart:
    frame: int  # the recorder's frame counter (1, 2, ...)
    duration: float  # seconds until the next frame (CARLA leaves -1 on the last frame)
    elapsed: float  # seconds since the recording started


@dataclass(frozen=True)
class EventAdd:
    """An actor appears. location in cm, rotation (roll, pitch, yaw) degrees, as in the file."""

    id: int
    kind_code: int  # see ACTOR_KINDS
    location: tuple[float, float, float]
    rotation: tuple[float, float, float]
    uid: int  # blueprint description uid
    type_id: str
    attributes: tuple[tuple[int, str, str], ...] = ()  # (attribute type, key, value)

    @property
    def kind(self) -> str:
        return ACTOR_KINDS.get(self.kind_code, "other")


@dataclass(frozen=True)
class Collision:
    id: int
    actor1: int
    actor2: int
    hero1: bool
    hero2: bool


@dataclass(frozen=True)
class Packet:
    """One packet. `data` by id: 0 FrameStart, 1 None, 2 list[EventAdd], 3 list[int], 4 list[(child, parent)],
    5 list[Collision], 6/7/12/13 numpy structured arrays (POSITION/STATE/KINEMATICS/BBOX_DTYPE); None when the
    packet was skipped (unknown ids, or ids not asked for)."""

    id: int
    offset: int  # byte offset of the packet's id byte
    size: int  # payload bytes
    data: object = None

    @property
    def name(self) -> str:
        return PACKET_NAMES.get(self.id, "custom" if self.id >= 100 else "unknown")


# --------------------------------------------------------------------------------------------- low level
class _Cursor:
    """Reads fields from one payload; knows the payload's file offset for error messages."""

    def __init__(self, buf: bytes, path, offset: int, packet_id: int):
        self.buf, self.pos, self.path, self.base, self.pid = buf, 0, path, offset, packet_id

    def _need(self, n: int, what: str):
        if self.pos + n > len(self.buf):
            raise RecorderError(
                self.path, self.base, self.pid,
                f"{what} (at byte {self.base + 5 + self.pos}) needs {n} bytes but only {len(self.buf) - self.pos} "
                f"remain of the declared size {len(self.buf)}", HINT_CORRUPT,
            )

    def unpack(self, st: struct.Struct, what: str) -> tuple:
        self._need(st.size, what)
        v = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return v

    def u8(self, what): return self.unpack(_U8, what)[0]  # noqa: E704
    def u16(self, what): return self.unpack(_U16, what)[0]  # noqa: E704
    def u32(self, what): return self.unpack(_U32, what)[0]  # noqa: E704

    def string(self, what: str) -> str:
        n = self.u16(what + " length")
        self._need(n, what)
        raw = self.buf[self.pos:self.pos + n]
        try:
            s = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RecorderError(self.path, self.base, self.pid, f"{what} (at byte {self.base + 5 + self.pos}) is "
                                "not valid UTF-8",
                                HINT_CORRUPT) from None
        self.pos += n
        return s

    def array(self, dtype: np.dtype, n: int, what: str) -> np.ndarray:
        self._need(n * dtype.itemsize, what)
        a = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.pos).copy()
        self.pos += n * dtype.itemsize
        return a

    def done(self):
        if self.pos != len(self.buf):
            raise RecorderError(
                self.path, self.base, self.pid,
                f"declared size {len(self.buf)} bytes but the content ends after {self.pos} bytes", HINT_CORRUPT,
            )


_U8, _U16, _U32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I")
_VEC3 = struct.Struct("<fff")


def decode_payload(pid: int, buf: bytes, path, offset: int):
    """The record(s) of one packet's payload `buf` (see Packet.data); `offset` (the packet's id byte) and `path`
    are for error messages. Raises RecorderError unless the payload is consumed exactly."""
    c = _Cursor(buf, path, offset, pid)
    if pid == 0:
        fid, dur, el = c.unpack(_FRAME, "FrameStart")
        c.done()
        return FrameStart(int(fid), float(dur), float(el))
    if pid == 1:
        c.done()
        return None
    n = c.u16("record count")
    if pid == 2:
        out = []
        for i in range(n):
            aid = c.u32(f"EventAdd[{i}].id")
            kind = c.u8(f"EventAdd[{i}].type")
            loc = c.unpack(_VEC3, f"EventAdd[{i}].location")
            rot = c.unpack(_VEC3, f"EventAdd[{i}].rotation")
            uid = c.u32(f"EventAdd[{i}].uid")
            type_id = c.string(f"EventAdd[{i}].type_id")
            na = c.u16(f"EventAdd[{i}].attribute count")
            attrs = []
            for j in range(na):
                at = c.u8(f"EventAdd[{i}].attribute[{j}].type")
                key = c.string(f"EventAdd[{i}].attribute[{j}].key")
                val = c.string(f"EventAdd[{i}].attribute[{j}].value")
                attrs.append((at, key, val))
            out.append(EventAdd(int(aid), int(kind), tuple(map(float, loc)), tuple(map(float, rot)), int(uid),
                                type_id, tuple(attrs)))
        c.done()
        return out
    if pid == 3:
        out = [c.u32(f"EventDel[{i}].id") for i in range(n)]
        c.done()
        return out
    if pid == 4:
        out = [(c.u32(f"EventParent[{i}].child"), c.u32(f"EventParent[{i}].parent")) for i in range(n)]
        c.done()
        return out
    if pid == 5:
        out = []
        for i in range(n):
            cid, a1, a2, h1, h2 = c.unpack(_COLLISION, f"Collision[{i}]")
            out.append(Collision(int(cid), int(a1), int(a2), bool(h1), bool(h2)))
        c.done()
        return out
    dtype = _FIXED[pid]
    arr = c.array(dtype, n, f"{PACKET_NAMES[pid]} records")
    c.done()
    return arr


def read_exact(f: BinaryIO, n: int) -> bytes:
    """Up to n bytes from f (b"" at EOF); callers check sizes against the file size first."""
    b = f.read(n)
    return b if b is not None else b""


def decode_header(f: BinaryIO, path, file_size: int) -> Header:
    """The file header, read from the start of f (a file of `file_size` bytes). Raises RecorderError for a short
    file or a bad magic."""
    def need(pos: int, n: int, what: str):
        if pos + n > file_size:
            raise RecorderError(path, pos, None, f"file ends inside the header ({what}); it has {file_size} bytes",
                                "Not a complete CARLA recorder file")

    need(0, 4, "version and magic length")
    version, mlen = struct.unpack("<HH", read_exact(f, 4))
    if mlen != len(MAGIC):
        raise RecorderError(path, 2, None, f"bad magic: string length {mlen}, expected {len(MAGIC)} for {MAGIC!r}",
                            "This is not a CARLA recorder .log file")
    need(4, mlen, "magic")
    magic_raw = read_exact(f, mlen)
    if magic_raw != MAGIC.encode():
        raise RecorderError(path, 4, None, f"bad magic {magic_raw!r}, expected {MAGIC!r}",
                            "This is not a CARLA recorder .log file")
    pos = 4 + mlen
    need(pos, 10, "date and map name length")
    date, nlen = struct.unpack("<qH", read_exact(f, 10))
    pos += 10
    need(pos, nlen, "map name")
    try:
        map_name = read_exact(f, nlen).decode("utf-8")
    except UnicodeDecodeError:
        raise RecorderError(path, pos, None, "map name is not valid UTF-8", HINT_CORRUPT) from None
    return Header(int(version), MAGIC, int(date), map_name, pos + nlen)
