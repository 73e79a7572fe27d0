"""A CARLA recording as a Scene: window, fps, actor poses in metres, sizes with their sources, collisions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sdg.carla.recorder import load_recording
from sdg.carla.recorder_packets import Collision, EventAdd
from sdg.carla.writer import FrameRecord, write_recording
from sdg.config import RecordingScenario, load_config
from sdg.scenario.replay import replay_window, scene_from_recording

ROOT = Path(__file__).resolve().parents[1]
FPS_LOG = 20.0
T_LOG = 4.0  # seconds recorded
CAR, TT, PED, TL, CAM, GONE, LATE = 101, 102, 103, 104, 105, 106, 107


def _car_x(t):  # car 101 drives along +x at 5 m/s from x = 10 m
    return 10.0 + 5.0 * t


def write_test_log(path: Path, collisions: bool = True) -> Path:
    frames = []
    n = int(T_LOG * FPS_LOG) + 1
    for k in range(n):
        t = k / FPS_LOG
        added, deleted = [], []
        if k == 0:
            added = [
                EventAdd(CAR, 1, (1000.0, 0.0, 0.0), (0.0, 0.0, 0.0), 1, "vehicle.tesla.model3",
                         ((3, "role_name", "hero"), (4, "color", "10,20,30"))),
                EventAdd(TT, 1, (3000.0, 500.0, 0.0), (0.0, 0.0, 180.0), 2, "vehicle.audi.tt", ()),
                EventAdd(PED, 2, (2000.0, -800.0, 95.0), (0.0, 0.0, 90.0), 3, "walker.pedestrian.9999", ()),
                EventAdd(TL, 3, (2500.0, 1000.0, 0.0), (0.0, 0.0, -90.0), 4, "traffic.traffic_light", ()),
                EventAdd(CAM, 5, (0.0, 0.0, 500.0), (0.0, 0.0, 0.0), 5, "sensor.camera.rgb", ()),
                EventAdd(GONE, 1, (-5000.0, 0.0, 0.0), (0.0, 0.0, 0.0), 6, "vehicle.audi.a2", ()),
            ]
        if k == 10:
            deleted = [GONE]  # gone at 0.5 s, before any test window
        if k == 60:
            added = [EventAdd(LATE, 1, (0.0, 3000.0, 0.0), (0.0, 0.0, 0.0), 7, "vehicle.mini.cooper_s", ())]
        pos = [
            (CAR, _car_x(t) * 100.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            (TT, 3000.0, 500.0 - 100.0 * t, 0.0, 0.0, 0.0, 180.0 - 10.0 * t),
            (PED, 2000.0, -800.0 + 140.0 * t, 95.0, 0.0, 0.0, 90.0),
            (CAM, 0.0, 0.0, 500.0, 0.0, 0.0, 0.0),
        ]
        if k < 10:
            pos.append((GONE, -5000.0, 0.0, 0.0, 0.0, 0.0, 0.0))
        if k >= 60:
            pos.append((LATE, 0.0, 3000.0, 0.0, 0.0, 0.0, 0.0))
        state = 0 if t < 2.0 else 2  # red, then green
        colls = [Collision(0, CAR, TT, True, False)] if collisions and 50 <= k <= 53 else []
        frames.append(FrameRecord(
            elapsed=t, added=added, deleted=deleted, collisions=colls, positions=pos,
            states=[(TL, 0, t if t < 2.0 else t - 2.0, state)],
            boxes=[(CAR, 0.0, 0.0, 74.5, 239.5, 108.0, 74.5)] if k == 0 else [],
        ))
    return write_recording(path, "Town10HD_Opt", frames, date=1)


def _spec(log: Path, **kw) -> RecordingScenario:
    return RecordingScenario(kind="recording", id="rec-1", log=log, **kw)


def test_window_actors_poses_sizes_and_collision(tmp_path):
    log = write_test_log(tmp_path / "t.log")
    scene = scene_from_recording(_spec(log, start_time=2.0, duration=1.0, fps=10.0))
    assert scene.source == "recording:t.log" and scene.name == "rec-1" and scene.map_name == "Town10HD_Opt"
    np.testing.assert_allclose(scene.times, 2.0 + np.arange(10) / 10.0)
    assert scene.fps == 10.0
    ids = sorted(a.id for a in scene.actors)
    assert ids == [CAR, TT, PED, TL]  # no sensor, no actor deleted before the window, none born after it
    car, tt, ped, tl = (scene.actor(i) for i in (CAR, TT, PED, TL))
    # positions in metres at the sampled times
    np.testing.assert_allclose(car.poses[:, 0], _car_x(scene.times), atol=1e-4)
    np.testing.assert_allclose(car.poses[:, 1:], 0.0, atol=1e-9)
    np.testing.assert_allclose(tt.poses[:, 1], 5.0 - 1.0 * scene.times, atol=1e-4)
    np.testing.assert_allclose(tt.poses[:, 5], 180.0 - 10.0 * scene.times, atol=1e-4)
    np.testing.assert_allclose(ped.poses[:, :3], np.c_[np.full(10, 20.0), -8.0 + 1.4 * scene.times,
                                                       np.full(10, 0.95)], atol=1e-4)
    np.testing.assert_allclose(tl.poses, np.tile([25.0, 10.0, 0.0, 0.0, 0.0, -90.0], (10, 1)))
    # sizes and their sources
    assert (car.size_source, tt.size_source, ped.size_source, tl.size_source) == ("log", "table", "default",
                                                                                   "default")
    np.testing.assert_allclose(car.size, [4.79, 2.16, 1.49])
    np.testing.assert_allclose(car.box_offset, [0, 0, 0.745])
    np.testing.assert_allclose(tt.size, [4.181210041046143, 1.9941171407699585, 1.385296106338501])
    np.testing.assert_allclose(tt.box_offset, [0, 0, 1.385296106338501 / 2])
    assert ped.box_offset.tolist() == [0, 0, 0]  # a walker's origin is its capsule centre
    assert (car.category, tt.category, ped.category, tl.category) == ("car", "car", "pedestrian",
                                                                      "traffic_light")
    assert car.color == (10, 20, 30) and car.attributes["role_name"] == "hero"
    assert tl.states == ["green"] * 10
    # the collision: first contact at frame 50 of the log = 2.5 s
    assert len(scene.events) == 1
    ev = scene.events[0]
    assert (ev.kind, sorted(ev.actor_ids), ev.t_start, ev.t_end) == ("collision", [CAR, TT], 2.5, 2.65)
    assert ev.details["hero"] is True and ev.details["contacts"] == 4


def test_window_from_scenario_json_and_late_actor(tmp_path):
    log = write_test_log(tmp_path / "t.log")
    sj = tmp_path / "s.json"
    sj.write_text(json.dumps({"source_scenario": "t", "start_time": 1.5, "duration": 2.0,
                              "collision_actor_ids": [CAR, TT]}))
    spec = _spec(log, scenario_json=sj, fps=5.0)
    win = replay_window(spec)
    assert (win.start, win.duration, win.fps, win.source, win.collision_actor_ids) == (1.5, 2.0, 5.0,
                                                                                      "scenario_json", (CAR, TT))
    scene = scene_from_recording(spec)
    np.testing.assert_allclose(scene.times, [1.5, 1.7, 1.9, 2.1, 2.3, 2.5, 2.7, 2.9, 3.1, 3.3])
    late = scene.actor(LATE)
    assert late.attributes["alive"] == [3.0, 4.0]
    np.testing.assert_allclose(late.poses[:, :2], [[0.0, 30.0]] * 10)  # held before it appears
    assert tuple(scene.actor(TL).states[:4]) == ("red", "red", "red", "green")
    (ev,) = scene.events
    assert ev.details["scenario_json"] is True and ev.t_start == 2.5
    # the config's own start_time wins over the JSON's
    assert replay_window(_spec(log, scenario_json=sj, start_time=0.25, fps=5.0)).start == 0.25


def test_scenario_json_collision_without_collision_packets(tmp_path):
    log = write_test_log(tmp_path / "nc.log", collisions=False)
    sj = tmp_path / "s.json"
    sj.write_text(json.dumps({"source_scenario": "t", "start_time": 0.0, "duration": 4.0,
                              "collision_actor_ids": [CAR, TT]}))
    scene = scene_from_recording(_spec(log, scenario_json=sj, fps=10.0))
    (ev,) = scene.events
    # the car's centre reaches x = 30 m (the TT's x) at t = 4 s; they are closest at the window's end
    assert ev.details["source"] == "scenario_json" and sorted(ev.actor_ids) == [CAR, TT]
    assert ev.t_start == pytest.approx(scene.times[-1])


def test_whole_recording_by_default_and_bad_windows(tmp_path):
    log = write_test_log(tmp_path / "t.log")
    scene = scene_from_recording(_spec(log, fps=10.0))
    assert scene.times[0] == 0.0 and scene.times[-1] == pytest.approx(4.0) and len(scene.times) == 41
    assert GONE in [a.id for a in scene.actors] and scene.actor(GONE).attributes["alive"] == [0.0, 0.45]
    with pytest.raises(ValueError, match=r"t\.log: window start 9\.000 s is after the recording's end"):
        scene_from_recording(_spec(log, start_time=9.0, duration=1.0))
    # a window running past the end is clipped to the recording
    scene = scene_from_recording(_spec(log, start_time=3.5, duration=2.0, fps=10.0))
    assert scene.times[-1] == pytest.approx(4.0) and len(scene.times) == 6


def test_replay_example_config():
    cfg = load_config(ROOT / "configs" / "replay_example.yaml")
    (spec,) = [s for s in cfg.scenarios if s.kind == "recording"]
    assert spec.log.exists() and spec.log.stat().st_size < 1_000_000
    rec = load_recording(spec.log)
    scene = scene_from_recording(spec)
    assert scene.source == f"recording:{spec.log.name}"
    assert scene.fps == pytest.approx(spec.fps)
    assert {a.id for a in scene.actors} <= set(rec.actors)
    assert any(e.kind == "collision" for e in scene.events)
    assert all(a.size_source == "log" for a in scene.actors)
    # every replayed pose equals the recording's sample at that time (the window's times are frame times)
    some = scene.actors[0]
    tr = rec.positions[some.id]
    k = int(np.argmin(np.abs(tr.times - scene.times[3])))
    assert abs(tr.times[k] - scene.times[3]) < 1e-6
    np.testing.assert_allclose(some.poses[3, :3], tr.values[k, :3], atol=1e-4)
