"""Event detectors on hand-built trajectories: each fires in a scene built to contain its event, with the right
actor ids and times within one frame, and stays silent in the matching scene without it."""
from __future__ import annotations

import numpy as np
import pytest

from sdg.groundtruth.events import (
    crosswalk_fraction,
    detect_collisions,
    detect_events,
    detect_hard_negatives,
    detect_jaywalking,
    detect_near_misses,
    detect_red_light,
    detect_wrong_way,
    merge_events,
)
from sdg.groundtruth.planar import footprints, gap, overlaps, segment_crossings, time_to_contact
from sdg.scene import Actor, Event, GroundMap, Scene
from sdg.tags import TAG

FPS = 10.0
DT = 1.0 / FPS
CAR = (4.0, 2.0, 1.5)
PED = (0.5, 0.5, 1.8)


def flat_ground() -> GroundMap:
    return GroundMap(-200.0, -200.0, 100.0, np.ones((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8))


def track(aid: int, category: str, size, xy: np.ndarray, yaw: float, states=None) -> Actor:
    poses = np.zeros((len(xy), 6))
    poses[:, :2] = xy
    poses[:, 5] = yaw
    size = np.asarray(size, dtype=np.float64)
    return Actor(aid, f"test.{category}", category, size, poses, box_offset=np.array([0.0, 0.0, size[2] / 2]),
                 states=states)


def linear(start, velocity, times, stop_at: float | None = None) -> np.ndarray:
    """Positions start + v t, frozen from time stop_at on."""
    t = times if stop_at is None else np.minimum(times, stop_at)
    return np.asarray(start, float)[None, :] + t[:, None] * np.asarray(velocity, float)[None, :]


def make_scene(actors, duration: float, ground: GroundMap | None = None) -> Scene:
    times = np.round(np.arange(0.0, duration + 1e-9, DT), 9)
    return Scene("ev", "test", times, ground or flat_ground(), actors=[a(times) for a in actors])


def kinds(events):
    return sorted(e.kind for e in events)


# --------------------------------------------------------------------------------------------- planar geometry
def test_planar_overlap_gap_and_time_to_contact():
    a = footprints(np.array([0.0, 0.0]), 4.0, 2.0, 0.0)  # x in [-2, 2], y in [-1, 1]
    b = footprints(np.array([5.0, 0.0]), 4.0, 2.0, 0.0)  # x in [3, 7]: 1 m ahead of a
    assert not overlaps(a, b) and gap(a, b) == pytest.approx(1.0)
    assert time_to_contact(a, b, np.array([-2.0, 0.0])) == pytest.approx(0.5)
    assert time_to_contact(a, b, np.array([2.0, 0.0])) == np.inf
    assert time_to_contact(a, b, np.array([-2.0, 5.0])) == np.inf  # slides past sideways before closing the gap
    # 2 x 2 squares turned 45 deg (diamonds |x - cx| + |y - cy| <= sqrt 2) near a's corner (2, 1)
    assert overlaps(a, footprints(np.array([3.2, 1.2]), 2.0, 2.0, 45.0))  # its edge passes (2, 0.986)
    far = footprints(np.array([3.5, 1.5]), 2.0, 2.0, 45.0)
    assert not overlaps(a, far)
    assert gap(a, far) == pytest.approx((2.0 - np.sqrt(2.0)) / np.sqrt(2.0))  # corner (2, 1) to its edge
    d = footprints(np.array([0.0, 4.0]), 4.0, 2.0, 90.0)  # turned: its near edge at y = 2, a's far edge at y = 1
    assert gap(a, d) == pytest.approx(1.0)
    assert segment_crossings(np.array([0.0, 0.0]), np.array([2.0, 0.0]), np.array([1.5, -1.0]),
                             np.array([1.5, 1.0])) == pytest.approx(0.75)


# --------------------------------------------------------------------------------------------- collision
def crossing_cars(b_start_y: float, stop_at: float | None = 1.8):
    """Car 1 drives +x through the origin, car 2 drives +y; with b_start_y = -19 contact happens at t = 1.705 s
    (car 1's front reaches car 2's left side x = -1 at x = -3; car 2's front has reached car 1's side since 1.6 s);
    both stop at the first frame in contact (1.8 s)."""
    def a(times):
        return track(1, "car", CAR, linear((-20.05, 0.0), (10.0, 0.0), times, stop_at=stop_at), 0.0)

    def b(times):
        return track(2, "car", CAR, linear((0.0, b_start_y), (0.0, 10.0), times, stop_at=stop_at), 90.0)

    return make_scene([a, b], 3.0)


def test_collision_detected_with_first_contact_time():
    sc = crossing_cars(-19.0)
    (ev,) = detect_collisions(sc)
    assert ev.kind == "collision" and ev.actor_ids == [1, 2]
    assert ev.t_start == pytest.approx(1.705, abs=1e-6)  # interpolated within the frame
    assert ev.t_end == pytest.approx(3.0)  # they stay in contact
    assert ev.details["relative_speed"] == pytest.approx(np.hypot(10.0, 10.0))
    assert "collision" in kinds(detect_events(sc))


def test_no_collision_when_one_car_passes_first():
    sc = crossing_cars(-40.0, stop_at=None)  # car 2 reaches the crossing 2.1 s later, when car 1 is long gone
    assert detect_collisions(sc) == []
    assert "collision" not in kinds(detect_events(sc))


# --------------------------------------------------------------------------------------------- near miss
def braking_car(final_gap: float, decel: float):
    """Car 1 drives +x at 10 m/s towards parked car 2 (rear at x = 48) and brakes at `decel` m/s² so that its front
    stops `final_gap` m short of it."""
    v0 = 10.0
    brake_dist = v0**2 / (2 * decel)
    x_brake = 48.0 - final_gap - 2.0 - brake_dist  # centre where braking starts
    t_brake = x_brake / v0

    def a(times):
        tb = np.clip(times - t_brake, 0.0, v0 / decel)
        x = np.where(times < t_brake, v0 * times, x_brake + v0 * tb - 0.5 * decel * tb**2)
        return track(1, "car", CAR, np.stack([x, np.zeros_like(x)], 1), 0.0)

    def b(times):
        return track(2, "car", CAR, np.tile([50.0, 0.0], (len(times), 1)), 0.0)

    return make_scene([a, b], 8.0), t_brake


def test_near_miss_detected_for_a_hard_brake():
    sc, t_brake = braking_car(final_gap=0.5, decel=8.0)
    (ev,) = detect_near_misses(sc, ttc_threshold=1.5)
    assert ev.actor_ids == [1, 2]
    # before braking: ttc = (46 - 10 t) / 10 < 1.5  <=>  t > 3.1
    assert ev.t_start == pytest.approx(3.1, abs=DT + 1e-9) and ev.t_start > 3.1
    assert ev.t_end > t_brake
    assert ev.details["min_gap"] == pytest.approx(0.5, abs=0.02)
    assert ev.details["min_ttc"] < 1.5
    assert detect_collisions(sc) == []
    assert kinds(detect_events(sc)).count("near_miss") == 1


def test_no_near_miss_for_a_gentle_stop():
    sc, _ = braking_car(final_gap=15.0, decel=2.0)  # ttc = 15/v + v/4 >= 3.87 s all along
    assert detect_near_misses(sc, ttc_threshold=1.5) == []
    assert "near_miss" not in kinds(detect_events(sc))


# --------------------------------------------------------------------------------------------- hard negatives
def passing(lateral_gap: float):
    def a(times):
        return track(1, "car", CAR, linear((-20.0, 0.0), (10.0, 0.0), times), 0.0)

    def b(times):  # parked alongside
        return track(2, "car", CAR, np.tile([0.0, 2.0 + lateral_gap], (len(times), 1)), 0.0)

    return make_scene([a, b], 4.0)


def test_hard_negative_for_a_close_pass():
    sc = passing(0.6)
    (ev,) = detect_hard_negatives(sc, distance=1.0)
    assert ev.actor_ids == [1, 2]
    assert ev.details["min_distance"] == pytest.approx(0.6)
    # gap = hypot(max(|x| - 4, 0), 0.6) < 1  <=>  |x| < 4.8  <=>  t in (1.52, 2.48)
    assert ev.t_start == pytest.approx(1.52, abs=DT) and ev.t_end == pytest.approx(2.48, abs=DT)
    assert 1.52 <= ev.details["t_min"] <= 2.48
    assert detect_collisions(sc) == [] and detect_near_misses(sc) == []


def test_no_hard_negative_for_a_wide_pass():
    assert detect_hard_negatives(passing(3.0), distance=1.0) == []
    assert kinds(detect_events(passing(3.0))) == []


# --------------------------------------------------------------------------------------------- wrong way
def lanes(x: float, y: float):
    """Two-lane road along x: +x in y in [0, 3.5], -x in y in [-3.5, 0); none for x > 10 or off the road."""
    if x > 10.0 or abs(y) > 3.5:
        return None
    return (1.0, 0.0) if y >= 0 else (-1.0, 0.0)


def test_wrong_way_detected_from_lane_entry():
    def wrong(times):  # in the +x lane driving -x; enters the lane area at x <= 10, t = 1.0
        return track(1, "car", CAR, linear((20.0, 1.75), (-10.0, 0.0), times), 180.0)

    def right(times):
        return track(2, "car", CAR, linear((20.0, -1.75), (-10.0, 0.0), times), 180.0)

    def reversing(times):  # heading -x but reversing along +x in the +x lane: not wrong-way driving
        return track(3, "car", CAR, linear((-40.0, 1.75), (2.0, 0.0), times), 180.0)

    sc = make_scene([wrong, right, reversing], 3.0)
    (ev,) = detect_wrong_way(sc, lanes)
    assert ev.actor_ids == [1]
    assert ev.t_start == pytest.approx(1.0, abs=DT) and ev.t_end == pytest.approx(3.0)
    assert ev.details["angle"] == pytest.approx(180.0)
    assert [e.kind for e in detect_events(sc, lane_direction_fn=lanes)] == ["wrong_way"]
    assert detect_events(sc) == []  # no lane information: the detector is skipped


def test_wrong_way_lane_lookups_are_strided_but_boundaries_exact():
    calls = []

    def counting(x, y):
        calls.append((x, y))
        return lanes(x, y)

    def wrong(times):  # x = 20 - 10 t reaches the lane area (x <= 10) exactly at t = 1.0
        return track(1, "car", CAR, linear((20.0, 1.75), (-10.0, 0.0), times), 180.0)

    sc = make_scene([wrong], 3.0)
    (ev,) = detect_wrong_way(sc, counting)
    assert ev.t_start == pytest.approx(1.0, abs=1e-9) and ev.t_end == pytest.approx(3.0, abs=1e-9)
    assert len(calls) < len(sc.times)


# --------------------------------------------------------------------------------------------- red light
def red_light_scene(light_state: str):
    def car(times):  # front = x + 2 crosses the stop line x = 10 at t = 1.805; rear at t = 2.205
        return track(1, "car", CAR, linear((-10.05, 1.75), (10.0, 0.0), times), 0.0)

    def other(times):  # opposite lane, the stop line does not span it
        return track(2, "car", CAR, linear((-10.05, -1.75), (10.0, 0.0), times), 0.0)

    def light(times):
        return track(9, "traffic_light", (0.5, 0.5, 4.0), np.tile([10.5, 4.5], (len(times), 1)), 0.0,
                     states=[light_state] * len(times))

    sc = make_scene([car, other, light], 3.0)
    stop_lines = [(np.array([[10.0, 0.0], [10.0, 3.5]]), 9)]
    return sc, stop_lines


def test_red_light_running_detected():
    sc, lines = red_light_scene("red")
    (ev,) = detect_red_light(sc, lines)
    assert ev.kind == "red_light" and ev.actor_ids == [1, 9]
    assert ev.t_start == pytest.approx(1.805, abs=1e-6) and ev.t_end == pytest.approx(2.205, abs=1e-6)
    assert [e.kind for e in detect_events(sc, stop_lines=lines)] == ["red_light"]


def test_no_red_light_event_on_green_or_without_a_light():
    sc, lines = red_light_scene("green")
    assert detect_red_light(sc, lines) == []
    sc, lines = red_light_scene("red")
    assert detect_red_light(sc, [(lines[0][0], None)]) == []


def test_red_light_bad_stop_lines():
    sc, _ = red_light_scene("red")
    with pytest.raises(ValueError, match=r"stop_lines\[0\]: no traffic-light actor 77"):
        detect_red_light(sc, [(np.array([[0.0, 0.0], [1.0, 0.0]]), 77)])
    with pytest.raises(ValueError, match=r"stop_lines\[0\]: actor 1 has no per-frame states"):
        detect_red_light(sc, [(np.array([[0.0, 0.0], [1.0, 0.0]]), 1)])
    with pytest.raises(ValueError, match=r"stop_lines\[0\]: polyline must be"):
        detect_red_light(sc, [(np.array([1.0, 2.0]), 9)])


# --------------------------------------------------------------------------------------------- jaywalking
def street() -> GroundMap:
    """Road |y| < 7 along x (5 cm cells) with a thin centre line and a zebra crossing at x in [20, 24]; sidewalks."""
    res = 0.05
    x0, y0, nx, ny = -10.0, -12.0, 1400, 480  # x in [-10, 60), y in [-12, 12)
    xs = x0 + (np.arange(nx) + 0.5) * res
    ys = y0 + (np.arange(ny) + 0.5) * res
    X, Y = np.meshgrid(xs, ys)
    tags = np.full((ny, nx), TAG["sidewalk"], np.uint8)
    road = np.abs(Y) < 7.0
    tags[road] = TAG["road"]
    tags[road & (np.abs(Y) < 0.075)] = TAG["road_line"]
    zebra = road & (X >= 20.0) & (X < 24.0) & (np.floor(Y / 0.5) % 2 == 0)
    tags[zebra] = TAG["road_line"]
    return GroundMap(x0, y0, res, tags, np.zeros((ny, nx, 3), np.uint8))


def test_crosswalk_fraction_tells_zebra_from_lane_line():
    sc = make_scene([], 0.0, street())
    assert crosswalk_fraction(sc, 22.0, 0.0, 2.0) > 0.35
    assert crosswalk_fraction(sc, 50.0, 0.0, 2.0) < 0.1


def test_jaywalking_detected_mid_block_not_on_the_crosswalk():
    def jay(times):  # crosses at x = 50: on the road while -7 < y < 7, i.e. t in (1.5, 8.5)
        return track(1, "pedestrian", PED, linear((50.0, -10.0), (0.0, 2.0), times), 90.0)

    def zebra(times):
        return track(2, "pedestrian", PED, linear((22.0, -10.0), (0.0, 2.0), times), 90.0)

    def sidewalk(times):
        return track(3, "pedestrian", PED, linear((0.0, 9.0), (1.4, 0.0), times), 0.0)

    sc = make_scene([jay, zebra, sidewalk], 10.0, street())
    (ev,) = detect_jaywalking(sc)
    assert ev.kind == "jaywalking" and ev.actor_ids == [1]
    assert ev.t_start == pytest.approx(1.5, abs=DT) and ev.t_end == pytest.approx(8.5, abs=DT)
    assert [e.kind for e in detect_events(sc)] == ["jaywalking"]


def test_no_jaywalking_without_pedestrians_on_the_road():
    def zebra(times):
        return track(2, "pedestrian", PED, linear((22.0, -10.0), (0.0, 2.0), times), 90.0)

    assert detect_jaywalking(make_scene([zebra], 10.0, street())) == []


# --------------------------------------------------------------------------------------------- merging
def test_merge_events_drops_duplicates_only():
    scripted = [Event("collision", [2, 1], 1.7, 3.0)]
    detected = [Event("collision", [1, 2], 1.705, 3.0), Event("collision", [1, 3], 1.7, 3.0),
                Event("near_miss", [1, 2], 1.0, 1.5)]
    merged = merge_events(scripted, detected)
    assert (merged[0].kind, merged[0].actor_ids, merged[0].t_start) == ("collision", [2, 1], 1.7)
    assert [(e.kind, e.actor_ids) for e in merged[1:]] == [("collision", [1, 3]), ("near_miss", [1, 2])]
    assert scripted[0].actor_ids == [2, 1]  # the inputs are not modified


def test_merge_events_folds_a_detection_naming_more_actors_into_the_scripted_event():
    scripted = [Event("red_light", [1], 1.12, 2.0)]
    detected = [Event("red_light", [1, 9004], 1.12, 1.5), Event("red_light", [5, 9004], 1.2, 1.5)]
    merged = merge_events(scripted, detected)
    assert [(e.kind, e.actor_ids, e.t_start, e.t_end) for e in merged] == [
        ("red_light", [1, 9004], 1.12, 2.0), ("red_light", [5, 9004], 1.2, 1.5)]
