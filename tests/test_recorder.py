"""CARLA recorder reader/writer, sizes and log-info. Files are built byte by byte here with struct.pack, independently
of sdg.carla.writer, following the layout of DESIGN.md §4 / CARLA's CarlaRecorder*.cpp."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from sdg.carla.loginfo import format_log_info, log_info
from sdg.carla.recorder import iter_packets, load_recording, read_header, sample_poses, states_at, trajectories
from sdg.carla.recorder_packets import Collision, EventAdd, RecorderError
from sdg.carla.sizes import actor_size, category_of
from sdg.carla.writer import FrameRecord, scene_to_recording, write_recording
from sdg.geometry import rotation_matrix
from sdg.scene import Actor, Event, GroundMap, Scene


# ------------------------------------------------------------------------------------------ byte builders
def s(text: str) -> bytes:
    b = text.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def header(map_name: str, date: int = 1_700_000_000, magic: str = "CARLA_RECORDER") -> bytes:
    return struct.pack("<H", 1) + s(magic) + struct.pack("<q", date) + s(map_name)


def pkt(pid: int, payload: bytes, size: int | None = None) -> bytes:
    return struct.pack("<BI", pid, len(payload) if size is None else size) + payload


def frame_start(fid: int, dur: float, elapsed: float) -> bytes:
    return pkt(0, struct.pack("<Qdd", fid, dur, elapsed))


def frame_end() -> bytes:
    return pkt(1, b"")


def event_add(aid, kind, loc, rot, uid, type_id, attrs) -> bytes:
    b = struct.pack("<IB", aid, kind) + struct.pack("<3f", *loc) + struct.pack("<3f", *rot)
    b += struct.pack("<I", uid) + s(type_id) + struct.pack("<H", len(attrs))
    for t, k, v in attrs:
        b += struct.pack("<B", t) + s(k) + s(v)
    return b


def lst(records: list[bytes]) -> bytes:
    return struct.pack("<H", len(records)) + b"".join(records)


def position(aid, x, y, z, roll, pitch, yaw) -> bytes:
    return struct.pack("<I6f", aid, x, y, z, roll, pitch, yaw)


VEH_ATTRS = [(3, "role_name", "hero"), (4, "color", "255,0,0")]


def build_log(map_name: str) -> tuple[bytes, dict]:
    """A 3-frame recording exercising every decoded packet, zero-count lists and skipped ids.
    Returns the bytes and the expected packet offsets (id -> first offset)."""
    out = bytearray(header(map_name))
    offsets: dict[int, int] = {}

    def put(pid: int, blob: bytes):
        offsets.setdefault(pid, len(out))
        out.extend(blob)

    # frame 1 at t=0
    put(0, frame_start(1, 0.05, 0.0))
    put(2, pkt(2, lst([
        event_add(10, 1, (100.0, 200.0, 0.0), (0.0, 0.0, 90.0), 7, "vehicle.tesla.model3", VEH_ATTRS),
        event_add(11, 2, (500.0, -300.0, 93.0), (0.0, 0.0, -45.0), 8, "walker.pedestrian.0001", []),
        event_add(12, 3, (0.0, 0.0, 0.0), (0.0, 0.0, 180.0), 9, "traffic.traffic_light", [(0, "x", "")]),
    ])))
    put(3, pkt(3, lst([])))
    put(4, pkt(4, lst([])))
    put(5, pkt(5, lst([])))
    put(6, pkt(6, lst([position(10, 100.0, 200.0, 0.0, 0.0, 0.0, 90.0),
                       position(11, 500.0, -300.0, 93.0, 0.0, 0.0, -45.0)])))
    put(7, pkt(7, lst([struct.pack("<IBfB", 12, 0, 1.5, 0)])))  # red
    put(8, pkt(8, lst([struct.pack("<IfffBi", 10, 0.1, 0.5, 0.0, 0, 1)])))  # AnimVehicle: skipped
    put(18, pkt(18, struct.pack("<Q", 123)))  # FrameCounter
    put(100, pkt(100, b"custom payload \x00\xff"))
    put(12, pkt(12, lst([struct.pack("<I6f", 10, 10.0, 0.0, 0.0, 0.0, 0.0, 5.0)])))
    put(13, pkt(13, lst([struct.pack("<I6f", 10, 0.0, 0.0, 74.5, 239.5, 108.0, 74.5),
                         struct.pack("<I6f", 11, 0.0, 0.0, 0.0, 18.0, 18.0, 93.0)])))
    put(1, frame_end())
    # frame 2 at t=0.05: the two vehicles touch
    out.extend(frame_start(2, 0.05, 0.05))
    out.extend(pkt(2, lst([])))
    out.extend(pkt(3, lst([])))
    out.extend(pkt(4, lst([])))
    out.extend(pkt(5, lst([struct.pack("<IIIBB", 0, 10, 11, 1, 0)])))
    out.extend(pkt(6, lst([position(10, 150.0, 200.0, 0.0, 0.0, 0.0, 90.0),
                           position(11, 520.0, -300.0, 93.0, 0.0, 0.0, -45.0)])))
    out.extend(pkt(7, lst([struct.pack("<IBfB", 12, 0, 0.0, 2)])))  # green
    put(23, pkt(23, b"\x01\x02\x03"))  # AnimBiker: skipped
    put(255, pkt(255, b""))
    out.extend(frame_end())
    # frame 3 at t=0.1: the walker is gone
    out.extend(frame_start(3, -1.0, 0.1))
    out.extend(pkt(3, lst([struct.pack("<I", 11)])))
    out.extend(pkt(6, lst([position(10, 200.0, 200.0, 0.0, 0.0, 0.0, 90.0)])))
    out.extend(frame_end())
    return bytes(out), offsets


MAPS = ["Town10HD_Opt", "Town03", "Carla/Maps/Town12", "Straße_ü"]


@pytest.mark.parametrize("map_name", MAPS)
def test_header_and_packets(tmp_path, map_name):
    data, offsets = build_log(map_name)
    f = tmp_path / "a.log"
    f.write_bytes(data)
    h = read_header(f)
    assert (h.version, h.magic, h.date, h.map_name) == (1, "CARLA_RECORDER", 1_700_000_000, map_name)
    assert h.size == len(header(map_name))
    pk = list(iter_packets(f))
    ids = [p.id for p in pk]
    assert ids == [0, 2, 3, 4, 5, 6, 7, 8, 18, 100, 12, 13, 1, 0, 2, 3, 4, 5, 6, 7, 23, 255, 1, 0, 3, 6, 1]
    for p in pk:
        if p.id in offsets and p.id not in (0, 1, 2, 3, 4, 5, 6, 7):
            assert p.offset == offsets[p.id]
    assert pk[0].offset == h.size
    # skipped ids carry no data
    assert all(p.data is None for p in pk if p.id in (8, 18, 23, 100, 255, 1))
    assert pk[9].name == "custom" and pk[9].size == len(b"custom payload \x00\xff")
    fs = pk[0].data
    assert (fs.frame, fs.duration, fs.elapsed) == (1, 0.05, 0.0)
    adds = pk[1].data
    assert adds[0] == EventAdd(10, 1, (100.0, 200.0, 0.0), (0.0, 0.0, 90.0), 7, "vehicle.tesla.model3",
                               tuple(VEH_ATTRS))
    assert adds[1].kind == "walker" and adds[1].attributes == ()
    assert adds[2].kind == "traffic_light" and adds[2].attributes == ((0, "x", ""),)
    assert pk[2].data == [] and pk[3].data == [] and pk[4].data == []
    pos = pk[5].data
    assert pos["id"].tolist() == [10, 11] and pos["x"].tolist() == [100.0, 500.0] and pos["yaw"].tolist() == [90, -45]
    st = pk[6].data
    assert st["id"].tolist() == [12] and st["state"].tolist() == [0] and st["elapsed"].tolist() == [1.5]
    assert pk[17].data == [Collision(0, 10, 11, True, False)]
    assert pk[24].data == [11]


@pytest.mark.parametrize("map_name", MAPS[:2])
def test_load_recording_summary(tmp_path, map_name):
    data, _ = build_log(map_name)
    f = tmp_path / "b.log"
    f.write_bytes(data)
    rec = load_recording(f)
    assert rec.map_name == map_name
    assert rec.frame_ids.tolist() == [1, 2, 3]
    np.testing.assert_allclose(rec.times, [0.0, 0.05, 0.1])
    assert rec.duration == pytest.approx(0.1) and rec.fps == pytest.approx(20.0)
    car, ped, tl = rec.actors[10], rec.actors[11], rec.actors[12]
    assert (car.type_id, car.kind, car.first_frame, car.last_frame, car.deleted) == (
        "vehicle.tesla.model3", "vehicle", 0, 2, False)
    assert car.attributes == {"role_name": "hero", "color": "255,0,0"}
    np.testing.assert_allclose(car.spawn, [1.0, 2.0, 0.0, 0.0, 0.0, 90.0])
    assert (ped.kind, ped.first_frame, ped.last_frame, ped.deleted) == ("walker", 0, 1, True)
    np.testing.assert_allclose(ped.spawn, [5.0, -3.0, 0.93, 0.0, 0.0, -45.0], rtol=1e-6)
    assert tl.kind == "traffic_light"
    # positions in metres, per actor, with frame indices and times
    np.testing.assert_array_equal(rec.positions[10].frame_index, [0, 1, 2])
    np.testing.assert_allclose(rec.positions[10].values[:, 0], [1.0, 1.5, 2.0])
    np.testing.assert_allclose(rec.positions[11].times, [0.0, 0.05])
    assert len(rec.collisions) == 1
    c = rec.collisions[0]
    assert (c.frame, c.time, c.actor1, c.actor2, c.hero1, c.hero2) == (1, 0.05, 10, 11, True, False)
    assert rec.light_states[12].values.tolist() == [0, 2]
    assert states_at(rec.light_states[12], [0.0, 0.04, 0.05, 0.2]) == ["red", "red", "green", "green"]
    np.testing.assert_allclose(rec.kinematics[10].values[0], [10, 0, 0, 0, 0, 5])
    np.testing.assert_allclose(rec.bounding_boxes[10], [0, 0, 74.5, 239.5, 108.0, 74.5])
    assert rec.notes == []


def test_window_keeps_only_nearby_samples(tmp_path):
    data, _ = build_log("Town03")
    f = tmp_path / "w.log"
    f.write_bytes(data)
    rec = load_recording(f, start=0.1, end=0.1, margin=0.02)
    assert rec.positions[10].frame_index.tolist() == [2]
    assert 11 not in rec.positions  # the walker's samples are all before the window
    assert rec.actors[11].deleted  # but the actor list is still complete


def test_truncated_tail(tmp_path):
    data, _ = build_log("Town10HD_Opt")
    full = tmp_path / "full.log"
    full.write_bytes(data)
    last_pos = [p for p in iter_packets(full) if p.id == 6][-1]
    # cut inside the last Position packet's payload
    f = tmp_path / "cut.log"
    f.write_bytes(data[: last_pos.offset + 5 + 3])
    with pytest.raises(RecorderError) as e:
        list(iter_packets(f))
    msg = str(e.value)
    assert str(f) in msg and f"byte offset {last_pos.offset}" in msg and "packet id 6 (Position)" in msg
    assert "allow_truncated" in msg
    assert e.value.offset == last_pos.offset and e.value.packet_id == 6
    # cut inside a packet header (2 of 5 bytes)
    f.write_bytes(data[: last_pos.offset + 2])
    with pytest.raises(RecorderError, match=rf"byte offset {last_pos.offset}, packet id 6 .*cut off"):
        list(iter_packets(f))
    # tolerant mode keeps the complete frames
    f.write_bytes(data[: last_pos.offset + 5 + 3])
    rec = load_recording(f, allow_truncated=True)
    assert rec.frame_ids.tolist() == [1, 2, 3]
    assert rec.positions[10].frame_index.tolist() == [0, 1]
    assert any("no FrameEnd" in n for n in rec.notes)


def test_bad_magic_and_short_header(tmp_path):
    f = tmp_path / "bad.log"
    f.write_bytes(header("Town03", magic="CARLA_RECORDEX") + frame_start(1, 0.1, 0.0))
    with pytest.raises(RecorderError, match=r"bad\.log: byte offset 4, header: bad magic b'CARLA_RECORDEX'"):
        read_header(f)
    f.write_bytes(struct.pack("<H", 1) + s("PNG"))
    with pytest.raises(RecorderError, match="byte offset 2, header: bad magic: string length 3"):
        list(iter_packets(f))
    f.write_bytes(header("Town03")[:-3])
    with pytest.raises(RecorderError, match="file ends inside the header"):
        read_header(f)


def test_declared_size_disagrees_with_content(tmp_path):
    base = header("Town03") + frame_start(1, 0.1, 0.0)
    off = len(base)
    # count 1 but the size leaves room for 2 positions
    body = lst([position(1, 0, 0, 0, 0, 0, 0)]) + b"\x00" * 28
    f = tmp_path / "size.log"
    f.write_bytes(base + pkt(6, body) + frame_end())
    with pytest.raises(RecorderError) as e:
        load_recording(f)
    assert e.value.offset == off and e.value.packet_id == 6
    assert "declared size 58 bytes but the content ends after 30 bytes" in str(e.value)
    # count 3 but the size only holds 2
    body = struct.pack("<H", 3) + position(1, 0, 0, 0, 0, 0, 0) + position(2, 0, 0, 0, 0, 0, 0)
    f.write_bytes(base + pkt(6, body) + frame_end())
    with pytest.raises(RecorderError, match=rf"byte offset {off}, packet id 6 \(Position\): Position records "
                                            rf"\(at byte {off + 7}\) needs 84 bytes but only 56 remain"):
        load_recording(f)
    # an EventAdd whose string runs past the declared size
    ev = event_add(5, 1, (0, 0, 0), (0, 0, 0), 1, "vehicle.audi.tt", [])
    f.write_bytes(base + pkt(2, lst([ev]), size=2 + len(ev) - 4) + ev[-4:] + frame_end())
    with pytest.raises(RecorderError, match=rf"byte offset {off}, packet id 2 \(EventAdd\): "
                                            r"EventAdd\[0\]\.type_id \(at byte \d+\) needs 15 bytes"):
        load_recording(f)
    # a FrameEnd with a payload
    f.write_bytes(base + pkt(1, b"\x00"))
    with pytest.raises(RecorderError, match=rf"byte offset {off}, packet id 1 \(FrameEnd\): declared size 1"):
        list(iter_packets(f))


def test_writer_reader_round_trip(tmp_path):
    rng = np.random.default_rng(3)
    frames = []
    for k in range(5):
        pos = [(i, *rng.uniform(-5000, 5000, 3), *rng.uniform(-180, 180, 3)) for i in (3, 4, 5)]
        frames.append(FrameRecord(
            elapsed=k * 0.1,
            added=[EventAdd(3, 1, (1.0, 2.0, 3.0), (0.0, 1.0, 2.0), 4, "vehicle.audi.a2", ((3, "role_name", "x"),)),
                   EventAdd(4, 2, (0.0, 0.0, 90.0), (0.0, 0.0, 0.0), 5, "walker.pedestrian.0002", ()),
                   EventAdd(5, 1, (0.0, 0.0, 0.0), (0.0, 0.0, 0.0), 6, "vehicle.yamaha.yzf", ())] if k == 0 else [],
            deleted=[4] if k == 3 else [],
            parents=[(5, 3)] if k == 1 else [],
            collisions=[Collision(0, 3, 5, False, True)] if k == 2 else [],
            positions=pos if k < 3 else [p for p in pos if p[0] != 4],
            kinematics=[(3, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0)],
            boxes=[(3, 0.0, 0.0, 80.0, 200.0, 90.0, 80.0)] if k == 0 else [],
            extra=[(19, b"bones"), (150, b"")],
        ))
    f = write_recording(tmp_path / "rt.log", "Town05", frames, date=42)
    assert read_header(f).map_name == "Town05" and read_header(f).date == 42
    rec = load_recording(f)
    assert rec.frame_ids.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(rec.times, [0.0, 0.1, 0.2, 0.3, 0.4])
    durs = [p.data.duration for p in iter_packets(f) if p.id == 0]
    np.testing.assert_allclose(durs, [0.1] * 5)
    assert rec.actors[3].attributes == {"role_name": "x"} and rec.actors[5].parent == 3
    assert (rec.actors[4].first_frame, rec.actors[4].last_frame) == (0, 2)
    for i in (3, 5):
        want = np.array([[p[1] / 100, p[2] / 100, p[3] / 100, p[4], p[5], p[6]]
                         for fr in frames for p in fr.positions if p[0] == i])
        np.testing.assert_allclose(rec.positions[i].values, want, rtol=1e-6, atol=1e-5)
    assert rec.positions[4].frame_index.tolist() == [0, 1, 2]
    assert [(c.frame, c.actor1, c.actor2, c.hero2) for c in rec.collisions] == [(2, 3, 5, True)]
    np.testing.assert_allclose(rec.bounding_boxes[3], [0, 0, 80, 200, 90, 80])
    assert [p.id for p in iter_packets(f)][:11] == [0, 2, 3, 4, 5, 6, 7, 12, 13, 19, 150]


def test_trajectories_interpolation(tmp_path):
    frames = [
        FrameRecord(elapsed=0.0, added=[EventAdd(1, 1, (0, 0, 0), (0, 0, 179.0), 0, "vehicle.audi.tt", ()),
                                        EventAdd(2, 1, (0, 0, 0), (0, 0, 0), 0, "vehicle.audi.tt", ())],
                    positions=[(1, 0.0, 0.0, 0.0, 0.0, 0.0, 179.0), (2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)]),
        FrameRecord(elapsed=1.0, positions=[(1, 1000.0, -200.0, 50.0, 0.0, 0.0, -179.0),
                                            (2, 0.0, 0.0, 0.0, 0.0, 20.0, 90.0)]),
        FrameRecord(elapsed=2.0, positions=[(1, 2000.0, -200.0, 50.0, 0.0, 0.0, -170.0)]),
    ]
    rec = load_recording(write_recording(tmp_path / "t.log", "Town01", frames))
    tr = trajectories(rec, [-1.0, 0.0, 0.5, 0.25, 1.5, 2.0, 9.0])
    a = tr[1]
    assert a.shape == (7, 6)
    # hold before the first sample, exact samples, midpoints in metres
    np.testing.assert_allclose(a[0], [0, 0, 0, 0, 0, 179.0], atol=1e-9)
    np.testing.assert_allclose(a[1], [0, 0, 0, 0, 0, 179.0], atol=1e-9)
    np.testing.assert_allclose(a[2, :3], [5.0, -1.0, 0.25], atol=1e-6)
    # yaw 179 -> -179 goes the short way through 180, not through 0
    assert abs(abs(a[2, 5]) - 180.0) < 1e-6
    np.testing.assert_allclose(a[3, 5], 179.5, atol=1e-6)
    np.testing.assert_allclose(a[4, :3], [15.0, -2.0, 0.5], atol=1e-6)
    np.testing.assert_allclose(a[4, 5], -174.5, atol=1e-6)
    np.testing.assert_allclose(a[5], [20.0, -2.0, 0.5, 0, 0, -170.0], atol=1e-6)
    np.testing.assert_allclose(a[6], a[5])  # hold after the last sample
    # actor 2: yaw 0->90 and pitch 0->20 together: the slerp midpoint is the half rotation
    b = tr[2]
    r0, r1 = rotation_matrix(0, 0, 0), rotation_matrix(0, 20, 90)
    rm = rotation_matrix(*b[2, 3:])
    # half rotation: applying it twice gives the full one
    np.testing.assert_allclose(rm @ rm, r1 @ r0.T, atol=1e-9)
    np.testing.assert_allclose(b[4:, 3:], [[0, 20, 90]] * 3, atol=1e-9)
    # a single sample is held everywhere
    one = sample_poses(np.array([3.0]), np.array([[1, 2, 3, 0, 0, 190.0]]), np.array([0.0, 5.0]))
    np.testing.assert_allclose(one, [[1, 2, 3, 0, 0, -170.0]] * 2)


def test_trajectory_slerp_matches_geometry_for_general_rotations():
    rng = np.random.default_rng(0)
    for _ in range(20):
        rpy = np.array([[rng.uniform(-170, 170), rng.uniform(-80, 80), rng.uniform(-180, 180)] for _ in range(2)])
        poses = np.c_[np.zeros((2, 3)), rpy]
        out = sample_poses(np.array([0.0, 1.0]), poses, np.array([0.0, 0.5, 1.0]))
        for k, want in ((0, rpy[0]), (2, rpy[1])):
            np.testing.assert_allclose(rotation_matrix(*out[k, 3:]), rotation_matrix(*want), atol=1e-9)
        r0, r1, rm = (rotation_matrix(*x) for x in (rpy[0], rpy[1], out[1, 3:]))
        rel = rm @ r0.T
        np.testing.assert_allclose(rel @ rel, r1 @ r0.T, atol=1e-8)


# ------------------------------------------------------------------------------------------ sizes
def test_actor_size_sources():
    size, off, src = actor_size("vehicle.tesla.model3", [0, 0, 74.5, 239.5, 108.0, 74.5])
    assert src == "log"
    np.testing.assert_allclose(size, [4.79, 2.16, 1.49])
    np.testing.assert_allclose(off, [0, 0, 0.745])
    # zero extents (two-wheelers, CARLA #3670) fall back to the table
    size, off, src = actor_size("vehicle.yamaha.yzf", [0, 0, 0, 0, 0, 0])
    assert src == "table"
    np.testing.assert_allclose(size, [2.1907684803009033, 0.8659172654151917, 1.530381441116333])
    np.testing.assert_allclose(off, [0, 0, 1.530381441116333 / 2])
    size, off, src = actor_size("walker.pedestrian.0009")
    assert src == "table" and size[2] == pytest.approx(1.1) and off.tolist() == [0, 0, 0]
    size, off, src = actor_size("vehicle.acme.citybus_9000")
    assert src == "default" and size.tolist() == [11.0, 2.6, 3.3] and off[2] == pytest.approx(1.65)
    size, off, src = actor_size("walker.pedestrian.9999")
    assert src == "default" and off.tolist() == [0, 0, 0]
    size, off, src = actor_size("traffic.traffic_light", kind=3)
    assert src == "default" and size.tolist() == [0.6, 0.6, 5.0] and off.tolist() == [0, 0, 2.5]
    with pytest.raises(ValueError, match="needs 6 values"):
        actor_size("vehicle.audi.tt", [1, 2, 3])


@pytest.mark.parametrize("type_id,kind,cat", [
    ("vehicle.tesla.model3", "vehicle", "car"),
    ("vehicle.carlamotors.firetruck", 1, "truck"),
    ("vehicle.mitsubishi.fusorosa", "vehicle", "bus"),
    ("vehicle.ford.ambulance", "vehicle", "van"),
    ("vehicle.vespa.zx125", "vehicle", "motorcycle"),
    ("vehicle.gazelle.omafiets", "vehicle", "bicycle"),
    ("vehicle.newbrand.mountainbike", "vehicle", "bicycle"),
    ("vehicle.newbrand.sedan", None, "car"),
    ("walker.pedestrian.0031", "walker", "pedestrian"),
    ("traffic.traffic_light", "traffic_light", "traffic_light"),
    ("traffic.stop", 4, "traffic_sign"),
    ("traffic.speed_limit.30", None, "traffic_sign"),
    ("sensor.camera.rgb", "sensor", None),
    ("spectator", "other", None),
    ("walker.controller.ai.walker", "other", None),
])
def test_category_of(type_id, kind, cat):
    assert category_of(type_id, kind) == cat


# ------------------------------------------------------------------------------------------ log-info
def test_log_info(tmp_path):
    data, _ = build_log("Town10HD_Opt")
    f = tmp_path / "info.log"
    f.write_bytes(data)
    info = log_info(f)
    assert info["map"] == "Town10HD_Opt" and info["version"] == 1 and info["frames"] == 3
    assert info["duration"] == pytest.approx(0.1) and info["fps"] == pytest.approx(20.0)
    assert info["date"] == "2023-11-14T22:13:20+00:00"
    assert info["actors"] == [
        {"id": 10, "type_id": "vehicle.tesla.model3", "kind": "vehicle", "first_frame": 1, "last_frame": 3},
        {"id": 11, "type_id": "walker.pedestrian.0001", "kind": "walker", "first_frame": 1, "last_frame": 2},
        {"id": 12, "type_id": "traffic.traffic_light", "kind": "traffic_light", "first_frame": 1, "last_frame": 3},
    ]
    assert info["collisions"] == [{"frame": 2, "time": 0.05, "actor1": 10, "actor2": 11}]
    json.dumps(info)
    text = format_log_info(info)
    assert "Map:       Town10HD_Opt" in text and "frame 2 t=0.050 s: 10 <-> 11" in text
    assert "vehicle.tesla.model3" in text and "Actors:    3  (1 traffic_light, 1 vehicle, 1 walker)" in text


# ------------------------------------------------------------------------------------------ scene export
def _tiny_scene() -> Scene:
    times = np.arange(5) * 0.1 + 2.0
    ground = GroundMap(0.0, 0.0, 1.0, np.zeros((2, 2), np.uint8), np.zeros((2, 2, 3), np.uint8))
    car = Actor(7, "vehicle.audi.tt", "car", np.array([4.18, 1.99, 1.39]),
                np.c_[np.arange(5) * 1.0, np.zeros(5), np.zeros(5), np.zeros((5, 2)), np.full(5, 30.0)],
                box_offset=np.array([0, 0, 0.695]), color=(200, 10, 20), size_source="table")
    ped = Actor(8, "walker.pedestrian.0001", "pedestrian", np.array([0.4, 0.4, 1.8]),
                np.c_[np.full(5, 3.0), np.arange(5) * 0.2, np.zeros((5, 3)), np.full(5, 90.0)],
                box_offset=np.array([0, 0, 0.9]))
    tl = Actor(9, "traffic.traffic_light", "traffic_light", np.array([0.6, 0.6, 5.0]), np.zeros((5, 6)),
               box_offset=np.array([0, 0, 2.5]), states=["red", "red", "green", "green", "yellow"])
    return Scene("tiny", "Town03", times, ground, actors=[car, ped, tl],
                 events=[Event("collision", [7, 8], 2.2, 2.3)])


def test_scene_to_recording_round_trip(tmp_path):
    scene = _tiny_scene()
    f = scene_to_recording(scene, tmp_path / "scene.log", date=0)
    rec = load_recording(f)
    assert rec.map_name == "Town03"
    np.testing.assert_allclose(rec.times, [0.0, 0.1, 0.2, 0.3, 0.4], atol=1e-12)
    assert {a.id: (a.type_id, a.kind) for a in rec.actors.values()} == {
        7: ("vehicle.audi.tt", "vehicle"), 8: ("walker.pedestrian.0001", "walker"),
        9: ("traffic.traffic_light", "traffic_light")}
    assert rec.actors[7].attributes["color"] == "200,10,20"
    np.testing.assert_allclose(rec.positions[7].values[:, 0], [0, 1, 2, 3, 4], atol=1e-6)
    # walkers are written at their capsule centre (CARLA's walker origin), with a zero box offset
    np.testing.assert_allclose(rec.positions[8].values[:, 2], 0.9, atol=1e-6)
    size, off, src = actor_size("walker.pedestrian.0001", rec.bounding_boxes[8])
    assert src == "log" and off.tolist() == [0, 0, 0]
    np.testing.assert_allclose(size, [0.4, 0.4, 1.8], atol=1e-6)
    size, off, src = actor_size("vehicle.audi.tt", rec.bounding_boxes[7])
    np.testing.assert_allclose(size, [4.18, 1.99, 1.39], atol=1e-6)
    np.testing.assert_allclose(off, [0, 0, 0.695], atol=1e-6)
    assert states_at(rec.light_states[9], rec.times) == ["red", "red", "green", "green", "yellow"]
    np.testing.assert_allclose(rec.light_states[9].times, rec.times)
    # collision on every frame of its span [2.2, 2.3] -> recording frames 2 and 3
    assert [(c.frame, c.actor1, c.actor2) for c in rec.collisions] == [(2, 7, 8), (3, 7, 8)]
    # kinematics: the car moves 1 m per 0.1 s along x
    np.testing.assert_allclose(rec.kinematics[7].values[:, 0], 10.0, atol=1e-4)
