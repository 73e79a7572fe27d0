"""Built-in layouts and scenario generator: ground tags, lane graph, signals, determinism, lane following, no
interpenetration, scripted events (kind, timing, visibility through the corner camera), stop-at-red, pedestrians."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from sdg.config import BuiltinScenario
from sdg.geometry import box_corners, wrap_degrees
from sdg.scenario.builtin import SCENARIO_KINDS, build_scene
from sdg.scenario.camera_yaml import load_camera_yaml
from sdg.scenario.layout import LAYOUTS, build_layout, layout_for_map
from sdg.scenario.layout_model import STATIC_ID_BASE, Lane, mark_conflicts
from sdg.scenario.opendrive import layout_from_xodr
from sdg.scenario.polyline import Polyline, line, rect_corners, rects_overlap, turn
from sdg.scenario.routes import make_route, route_choices
from sdg.scenario.signals import two_group_plan
from sdg.scenario.simulation import Simulation, VehicleAgent
from sdg.scenario.topdown import draw_scene, draw_topdown, save_png
from sdg.scenario.traffic import actor_size_table
from sdg.scenario.walkers import CrossingWait, WalkerAgent
from sdg.tags import TAG

ROOT = Path(__file__).resolve().parents[1]
ROAD = (TAG["road"], TAG["road_line"])
SEED = 3
_scenes: dict = {}


def scene(kind: str, layout: str = "intersection", seed: int = SEED, **kw):
    key = (kind, layout, seed, tuple(sorted(kw.items())))
    if key not in _scenes:
        _scenes[key] = build_scene(BuiltinScenario(id=f"{kind}-{layout}-{seed}", scenario=kind, layout=layout,
                                                   seed=seed, **kw))
    return _scenes[key]


def moving(scene_):
    return [a for a in scene_.actors if a.category not in ("traffic_light", "traffic_sign")]


def footprint(a, k):
    x, y, _, _, _, yaw = a.poses[k]
    return rect_corners((x, y), np.radians(yaw), a.size[0], a.size[1])


# ------------------------------------------------------------------------------------------------ layouts
def test_intersection_ground_tags_at_known_points():
    lay = build_layout("intersection", 0)
    g = lay.ground
    assert g.resolution == 0.05 and g.tags.shape == (3000, 3000)
    pts = {
        "stop line (E arm, entry side)": ((16.0, -3.0), TAG["road_line"]),
        "zebra stripe (E arm)": ((13.0, 0.0), TAG["road_line"]),
        "gap between zebra stripes": ((13.0, 0.5), TAG["road"]),
        "solid lane divider before the stop line": ((25.0, -3.5), TAG["road_line"]),
        "double yellow centre line": ((40.0, 0.11), TAG["road_line"]),
        "lane centre (S arm northbound)": ((1.75, 40.0), TAG["road"]),
        "junction box": ((0.0, 0.0), TAG["road"]),
        "sidewalk (N arm, east side)": ((9.0, -30.0), TAG["sidewalk"]),
        "corner sidewalk": ((9.0, 9.0), TAG["sidewalk"]),
        "kerb fillet is road": ((7.6, 7.6), TAG["road"]),
        "block (grass)": ((40.0, 40.0), TAG["terrain"]),
        "outside the raster": ((500.0, -500.0), TAG["terrain"]),
    }
    for name, ((x, y), tag) in pts.items():
        t, alb = g.lookup(np.array([x]), np.array([y]))
        assert t[0] == tag, f"{name} at ({x}, {y}): tag {t[0]} != {tag}"
    _, white = g.lookup(np.array([16.0]), np.array([-3.0]))
    assert white[0].min() > 195  # white paint
    _, yellow = g.lookup(np.array([40.0]), np.array([0.11]))
    assert yellow[0][0] > yellow[0][2] + 80  # yellow paint: red >> blue
    _, asphalt = g.lookup(np.array([1.75]), np.array([40.0]))
    assert asphalt[0].max() < 110


def test_intersection_lane_graph_and_signals():
    lay = build_layout("intersection", 0)
    entries, exits, conn = lay.lanes_of("entry"), lay.lanes_of("exit"), lay.lanes_of("junction")
    assert len(entries) == 8 and len(exits) == 8
    assert sorted(l.movement for l in conn).count("left") == 4 and len(conn) == 16
    lights = {s.id: s for s in lay.static_specs if s.category == "traffic_light"}
    assert len(lights) == 4 and all(i >= STATIC_ID_BASE for i in lights)
    for e in entries:
        assert e.stop_s == pytest.approx(e.path.length) and e.light_id in lights
        assert np.hypot(*e.path.end) > 15.0  # stop line beyond the crosswalk
        for j in e.successors:
            c = lay.lanes[j]
            np.testing.assert_allclose(c.path.start, e.path.end, atol=1e-9)
            (x,) = c.successors
            np.testing.assert_allclose(c.path.end, lay.lanes[x].path.start, atol=1e-9)
            assert lay.lanes[x].kind == "exit"
            # smooth: no heading jump > 3 degrees between consecutive vertices
            assert np.degrees(np.abs(np.diff(c.path.segment_heading))).max(initial=0.0) < 3.0
    # drive on the right: east-bound lanes are south of the centre line (+y in CARLA axes)
    np.testing.assert_allclose(lay.lane_direction(30.0, 5.25), [1, 0], atol=1e-9)
    np.testing.assert_allclose(lay.lane_direction(30.0, -1.75), [-1, 0], atol=1e-9)
    np.testing.assert_allclose(lay.lane_direction(-1.75, -30.0), [0, 1], atol=1e-9)
    assert lay.lane_direction(0.0, 0.0) is None and lay.lane_direction(9.0, -30.0) is None
    sl = lay.stop_lines()
    assert len(sl) == 8 and all(lid in lights for _, lid in sl)
    # opposing straights do not conflict, crossing straights do
    def straight(arm, k):
        e = next(l for l in entries if l.arm == arm and l.index == k)
        return next(lay.lanes[j] for j in e.successors if lay.lanes[j].movement == "straight")
    assert straight("E", 0).id not in straight("W", 0).conflicts
    assert straight("N", 1).id in straight("E", 0).conflicts
    # signal states of the light actors follow the plan
    plan = lay.signals
    t = 3.0
    p2 = plan.with_offset(plan.offset_for("ew_green", t, 2.0))
    acts = {a.id: a for a in lay.static_actors(np.array([t, t + 100.0]), p2)}
    for lid, spec in lights.items():
        assert acts[lid].states[0] == ("green" if spec.group == "ew" else "red")
        assert acts[lid].poses.shape == (2, 6) and np.all(acts[lid].poses[0] == acts[lid].poses[1])
    signs = [a for a in acts.values() if a.category == "traffic_sign"]
    assert len(signs) == 4 and all(a.type_id.startswith("traffic.speed_limit.") for a in signs)


def _connector(lid: int, p0, p1, pred: int) -> Lane:
    return Lane(id=lid, path=Polyline(line(p0, p1)), width=3.5, speed_limit=10.0, kind="junction",
                predecessors=[pred])


def test_mark_conflicts_rule():
    """The one conflict rule of both layout builders (junction.py and opendrive.py): connectors of a junction
    conflict when their centre lines come closer than `clearance` (3.2 m), unless they leave the same lane."""
    a = _connector(10, (-10.0, 1.75), (10.0, 1.75), pred=0)  # eastbound straight
    a_turn = _connector(11, (-10.0, 1.75), (-1.75, 10.0), pred=0)  # leaves the same entry lane as `a`
    b = _connector(12, (-1.75, 10.0), (-1.75, -10.0), pred=1)  # crosses `a` at right angles
    c = _connector(13, (10.0, -1.75), (-10.0, -1.75), pred=2)  # opposite direction, 3.5 m from `a`, `a_turn`
    d = _connector(14, (10.0, -1.25), (-10.0, -1.25), pred=3)  # 3.0 m from `a` and `a_turn`, 0.5 m from `c`
    far = _connector(15, (40.0, 40.0), (60.0, 40.0), pred=4)  # bounding box far from all others
    other = _connector(16, (-10.0, 1.0), (10.0, 1.0), pred=5)  # overlaps `a` but is not passed in
    mark_conflicts([a, a_turn, b, c, d, far])
    got = {lane.id: sorted(lane.conflicts) for lane in (a, a_turn, b, c, d, far, other)}
    assert got == {10: [12, 14], 11: [12, 14], 12: [10, 11, 13, 14], 13: [12, 14], 14: [10, 11, 12, 13],
                   15: [], 16: []}
    e = _connector(20, (0.0, 0.0), (10.0, 0.0), pred=6)
    f = _connector(21, (0.0, 3.0), (10.0, 3.0), pred=7)
    mark_conflicts([e, f], clearance=2.9)  # 3.0 m apart: no conflict below that clearance
    assert not e.conflicts and not f.conflicts


def _rule_conflicts(lanes: list[Lane], clearance: float = 3.2) -> dict[int, set[int]]:
    """Brute force of the rule: every pair, no shortcut."""
    pts = {lane.id: lane.path.resampled(0.5).points for lane in lanes}
    out = {lane.id: set() for lane in lanes}
    for la in lanes:
        for lb in lanes:
            if la.id == lb.id or set(la.predecessors) & set(lb.predecessors):
                continue
            if np.linalg.norm(pts[la.id][:, None] - pts[lb.id][None], axis=-1).min() < clearance:
                out[la.id].add(lb.id)
    return out


@pytest.mark.parametrize("source", ["intersection", "t_junction", "arterial", "crossroads.xodr"])
def test_layout_conflicts_follow_the_rule(source):
    if source.endswith(".xodr"):
        lay = layout_from_xodr(ROOT / "tests/data" / source)
        assert lay.info["junctions"] == 1  # one junction: all its connectors form one group
    else:
        lay = build_layout(source, 0)
    js = lay.lanes_of("junction")
    want = _rule_conflicts(js)
    assert {lane.id: lane.conflicts for lane in js} == want
    assert sum(map(len, want.values())) > 0
    assert all(not lane.conflicts for lane in lay.lanes.values() if lane.kind != "junction")


def test_layout_props_stay_off_the_road():
    for name in LAYOUTS:
        lay = build_layout(name, 1)
        tags = {p.tag for p in lay.props}
        assert {TAG["building"], TAG["vegetation"], TAG["pole"]} <= tags, name
        assert len(lay.lights) >= 8
        for p in lay.props:
            if p.tag == TAG["pole"] and p.size[2] < 1.0:
                continue  # lamp arms and heads hang over the road
            c = rect_corners(p.center[:2], np.radians(p.yaw), p.size[0] * 0.98, p.size[1] * 0.98)
            t, _ = lay.ground.lookup(c[:, 0], c[:, 1])
            assert not np.isin(t, ROAD).any(), (name, p)
        # nothing blocks the default corner camera's pole position
        assert all(np.hypot(p.center[0] + 13.0, p.center[1] + 13.0) > 5.0 for p in lay.props), name
    # the seed changes the buildings, not the roads
    a, b = build_layout("intersection", 1), build_layout("intersection", 2)
    assert [p.center for p in a.props if p.tag == 3] != [p.center for p in b.props if p.tag == 3]
    assert np.array_equal(a.ground.tags, b.ground.tags)


def test_extra_layouts_lane_graphs():
    t = build_layout("t_junction", 0)
    assert sorted({l.arm for l in t.lanes_of("entry")}) == ["E", "S", "W"]
    assert all(l.movement != "straight" for e in t.lanes_of("entry") if e.arm == "S" for l in
               (t.lanes[j] for j in e.successors))
    s = build_layout("straight", 0)
    assert len(s.crosswalks) == 1 and not s.info["crossing"]
    assert all(s.lanes[j].movement == "straight" for e in s.lanes_of("entry") for j in e.successors)
    a = build_layout("arterial", 0)
    assert len([l for l in a.lanes_of("entry") if l.arm == "E"]) == 3
    t_, _ = a.ground.lookup(np.array([40.0]), np.array([0.0]))
    assert t_[0] == TAG["terrain"]  # planted median
    for lay in (t, s, a):
        for e in lay.lanes_of("entry"):
            assert e.successors, (lay.name, e.id)


def test_build_layout_and_layout_for_map(caplog):
    with pytest.raises(ValueError, match="known layouts"):
        build_layout("moon_base", 0)
    assert layout_for_map("Town10HD_Opt").name == "intersection"
    assert layout_for_map("/Game/Carla/Maps/Town04").name == "arterial"
    assert layout_for_map("Town01").name == "t_junction"
    assert layout_for_map("Town06_Opt").name == "straight"
    with caplog.at_level(logging.WARNING, logger="sdg.scenario.layout"):
        assert layout_for_map("Atlantis").name == "intersection"
    assert any("Atlantis" in r.getMessage() for r in caplog.records)


def test_polyline_turn_is_a_tangent_arc():
    p = turn((-16.0, 5.25), 0.0, (-5.25, 16.0), np.pi / 2, radius=5.75)
    assert p.start == pytest.approx([-16.0, 5.25]) and p.end == pytest.approx([-5.25, 16.0])
    assert np.degrees(p.heading_at(0.0)) == pytest.approx(0.0, abs=1e-9)
    assert np.degrees(p.heading_at(p.length)) == pytest.approx(90.0, abs=1e-9)
    # the arc points are 5.75 m from the centre (-11, 11)
    r = np.hypot(p.points[:, 0] + 11.0, p.points[:, 1] - 11.0)
    arc_pts = (p.points[:, 0] > -11.0 + 1e-6) & (p.points[:, 1] < 11.0 - 1e-6)
    np.testing.assert_allclose(r[arc_pts], 5.75, atol=1e-6)
    s, d = p.project(np.array([[-16.0 + 3.0, 5.25 + 0.4]]))
    assert s[0] == pytest.approx(3.0) and d[0] == pytest.approx(0.4)  # +y is the right side when heading +x


# ------------------------------------------------------------------------------------------------ simulation units
def _one_lane(lay):
    e = next(l for l in lay.lanes_of("entry") if l.arm == "W" and l.index == 1)
    lanes = next(c for c in route_choices(lay, e.id) if lay.lanes[c[1]].movement == "straight")
    return make_route(lay, lanes, before=60.0, after=60.0)


def test_vehicles_stop_at_red_follow_and_go_on_green():
    lay = build_layout("intersection", 0)
    plan = two_group_plan("ew", "ns", green=12.0, walk=10.0)
    plan = plan.with_offset(plan.offset_for("ew_green", 14.0, 0.0))  # ew turns green at t = 14 s
    route = _one_lane(lay)
    stop = route.stops[0].s
    cars = [VehicleAgent(id=i + 1, type_id="vehicle.tesla.model3", category="car", size=(4.79, 2.16, 1.49),
                         color=(1, 2, 3), route=route, s=stop - 60.0 - 12.0 * i, v=10.0) for i in range(3)]
    dt, steps = 0.05, 440
    sim = Simulation(lay, plan, 0.0, dt, steps, cars, []).run()
    fronts = np.array([[c.route.path.project(sim.veh_pose[i, j, :2][None])[0][0] for j, c in enumerate(cars)]
                       for i in range(steps)]) + 4.79 / 2
    t = np.arange(steps) * dt
    red = t < 14.0
    assert fronts[red, 0].max() <= stop + 1e-6  # the leader never passes the line on red
    assert sim.veh_speed[int(13.5 / dt), 0] < 0.05 and stop - fronts[int(13.5 / dt), 0] < 3.0  # waits at the line
    assert fronts[-1, 0] > stop + 20  # and leaves on green
    gaps = fronts[:, :-1] - 4.79 - fronts[:, 1:]  # follower front to leader rear
    assert gaps.min() > 0.5  # never touching
    assert sim.stop_cross[1][0][2] == "green"


def test_pedestrian_waits_for_walk_phase():
    lay = build_layout("intersection", 0)
    plan = two_group_plan("ew", "ns", green=12.0, walk=16.0)
    plan = plan.with_offset(plan.offset_for("walk", 5.0, 0.0))  # walk starts at t = 5 s
    cw = lay.crosswalks[0]
    path = Polyline(np.concatenate([cw.path.start[None] - 3.0 * (cw.path.end - cw.path.start)[None] /
                                    cw.path.length, cw.path.points]))
    wait = CrossingWait(s=4.0, s_end=path.length, crosswalk=cw.id, length=path.length - 4.0)
    w = WalkerAgent(id=1, type_id="walker.pedestrian.0001", size=(0.38, 0.38, 1.86), color=(1, 1, 1), path=path,
                    speed=1.4, waits=[wait], s=0.0)
    sim = Simulation(lay, plan, 0.0, 0.05, 400, [], [w]).run()
    (t_start, t_end), = sim.crossing_log[1]
    assert 5.0 <= t_start <= 5.05 + 1e-9
    s_along = np.array([path.project(p[None, :2])[0][0] for p in sim.walk_pose[:, 0]])
    assert s_along[: int(5.0 / 0.05)].max() <= 4.0 + 1e-6
    assert t_end < 5.0 + plan.phases[plan.phase_index(5.0)].duration + 3.0  # done before the vehicles' green


# ------------------------------------------------------------------------------------------------ scenes
def test_unknown_kind_and_unsupported_combinations():
    with pytest.raises(ValueError) as e:
        build_scene(BuiltinScenario(id="x", scenario="alien_landing"))
    assert "alien_landing" in str(e.value) and "collision" in str(e.value) and "rush_hour" in str(e.value)
    with pytest.raises(ValueError, match="crossing road"):
        build_scene(BuiltinScenario(id="x", scenario="collision", layout="straight"))
    with pytest.raises(ValueError, match="needs duration"):
        build_scene(BuiltinScenario(id="x", scenario="collision", duration=0.5))
    assert {"collision", "wrong_way", "near_miss", "jaywalking", "rush_hour"} <= set(SCENARIO_KINDS)


def test_determinism_same_spec_same_poses():
    a = scene("collision")
    b = build_scene(BuiltinScenario(id=a.name, scenario="collision", seed=SEED))
    assert [x.id for x in a.actors] == [x.id for x in b.actors]
    for x, y in zip(a.actors, b.actors):
        assert x.type_id == y.type_id and np.array_equal(x.poses, y.poses) and x.states == y.states
    assert [(e.kind, e.actor_ids, e.t_start, e.t_end) for e in a.events] == \
           [(e.kind, e.actor_ids, e.t_start, e.t_end) for e in b.events]
    c = scene("collision", seed=SEED + 1)
    assert any(not np.array_equal(x.poses, y.poses) for x, y in zip(a.actors, c.actors) if x.category == "car")


@pytest.mark.parametrize("kind", ["collision", "near_miss", "wrong_way", "jaywalking", "rush_hour"])
def test_scene_frames_sizes_ids_and_yaw(kind):
    sc = scene(kind)
    assert np.allclose(sc.times, np.arange(30) / 10.0) and sc.fps == 10.0
    ids = [a.id for a in sc.actors]
    assert len(set(ids)) == len(ids) and min(ids) > 0
    table = actor_size_table()
    skip = _after_contact(sc)
    for a in moving(sc):
        assert a.id < STATIC_ID_BASE and a.poses.shape == (30, 6) and a.size_source == "table"
        ref = table[a.type_id]
        np.testing.assert_allclose(a.size, [ref["length"], ref["width"], ref["height"]])
        np.testing.assert_allclose(a.box_offset, [0, 0, a.size[2] / 2])
        assert np.all(a.poses[:, 2] == 0) and np.all(a.poses[:, 3:5] == 0)
        # yaw = heading of motion: compare with the central difference wherever the actor moves > 1 m/s
        # (pedestrians: where they are not turning a corner)
        d = a.poses[2:, :2] - a.poses[:-2, :2]
        for k in np.flatnonzero(np.hypot(d[:, 0], d[:, 1]) > 0.2) + 1:
            if a.id in skip and sc.times[k + 1] >= skip[a.id]:
                continue
            if a.category == "pedestrian" and abs(wrap_degrees(a.poses[k + 1, 5] - a.poses[k - 1, 5])) > 3.0:
                continue
            head = np.degrees(np.arctan2(d[k - 1, 1], d[k - 1, 0]))
            assert abs(wrap_degrees(head - a.poses[k, 5])) < 3.0, (a.id, k)
    static = [a for a in sc.actors if a.category in ("traffic_light", "traffic_sign")]
    assert static and all(a.id >= STATIC_ID_BASE for a in static)
    assert all(len(a.states) == 30 for a in static if a.category == "traffic_light")


def _after_contact(sc) -> dict[int, float]:
    return {i: e.t_start for e in sc.events if e.kind == "collision" for i in e.actor_ids}


@pytest.mark.parametrize("kind,layout", [("collision", "intersection"), ("near_miss", "intersection"),
                                         ("wrong_way", "intersection"), ("jaywalking", "intersection"),
                                         ("rush_hour", "intersection"), ("traffic", "t_junction"),
                                         ("traffic", "straight"), ("traffic", "arterial")])
def test_vehicles_follow_lanes_without_interpenetration(kind, layout):
    sc = scene(kind, layout)
    lay = build_layout(layout, 0)
    vehicles = [a for a in moving(sc) if a.category != "pedestrian"]
    contact = _after_contact(sc)
    wrong = {a.id for a in vehicles if a.attributes.get("role") == "wrong_way"}
    for a in vehicles:
        route = make_route(lay, a.attributes["route"], before=400.0, after=400.0, reverse=a.id in wrong)
        for k in range(len(sc.times)):
            if a.id in contact and sc.times[k] >= contact[a.id]:
                continue
            _, off = route.path.project(a.poses[k, None, :2])
            assert abs(off[0]) < 0.05, (a.id, k, off)  # centre on its lane's centre line
            c = footprint(a, k)
            if lay.in_bounds(c[:, 0], c[:, 1]).all() and a.size[1] < 3.0:
                t, _ = lay.ground.lookup(c[:, 0], c[:, 1])
                assert np.isin(t, ROAD).all(), (a.id, k, t)
            if a.id in wrong and lay.in_bounds(a.poses[k, 0], a.poses[k, 1]):
                d = lay.lane_direction(a.poses[k, 0], a.poses[k, 1])
                yaw = np.radians(a.poses[k, 5])
                assert d is not None and d @ [np.cos(yaw), np.sin(yaw)] < -0.99
    pair_ok = {tuple(sorted(e.actor_ids)): e.t_start for e in sc.events if e.kind == "collision"}
    for k in range(len(sc.times)):
        fps = [(a, footprint(a, k)) for a in vehicles]
        for i, (a, fa) in enumerate(fps):
            for b, fb in fps[i + 1:]:
                key = tuple(sorted((a.id, b.id)))
                if key in pair_ok and sc.times[k] >= pair_ok[key]:
                    continue
                assert not rects_overlap(fa, fb), (kind, a.id, b.id, k)


EXPECTED = {"collision": {"collision", "red_light"}, "near_miss": {"near_miss", "red_light"},
            "wrong_way": {"wrong_way"}, "jaywalking": {"jaywalking"}, "rush_hour": set()}


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_event_kinds_window_and_visibility(kind):
    sc = scene(kind)
    assert {e.kind for e in sc.events} == EXPECTED[kind]
    cam = load_camera_yaml(ROOT / "configs" / "cameras" / "intersection_corner.yaml")
    for e in sc.events:
        assert 0.0 <= e.t_start <= e.t_end <= sc.times[-1], e
        t_view = e.details.get("t_min_gap", e.t_start)
        k = int(np.argmin(np.abs(sc.times - t_view)))
        for aid in e.actor_ids:
            a = sc.actor(aid)
            corners = box_corners(a.size, a.box_centers()[k], a.poses[k, 3:6])
            uv, z = cam.project(np.vstack([a.box_centers()[k], corners]))
            assert np.all(z > 0)
            inside = (uv[:, 0] >= 0) & (uv[:, 0] <= cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] <= cam.height)
            assert inside[0] and inside.mean() >= 0.75, (e.kind, aid, uv)
    if kind == "rush_hour":
        assert len([a for a in moving(sc) if a.category != "pedestrian"]) >= 20


def test_collision_contact_and_red_light():
    sc = scene("collision")
    col = next(e for e in sc.events if e.kind == "collision")
    red = next(e for e in sc.events if e.kind == "red_light")
    runner, victim = (sc.actor(i) for i in col.actor_ids)
    assert red.actor_ids == [runner.id] and red.t_start < col.t_start
    k = int(np.argmin(np.abs(sc.times - col.t_start)))
    assert sc.times[k] == pytest.approx(col.t_start)
    assert rects_overlap(footprint(runner, k), footprint(victim, k))
    assert not rects_overlap(footprint(runner, k - 1), footprint(victim, k - 1))
    # the runner's light is red when it crosses the stop line, the victim's green
    kr = int(np.searchsorted(sc.times, red.t_start))
    light = sc.actor(red.details["light_id"])
    assert light.states[kr] == "red" and light.states[kr - 1] == "red"
    seg = np.array(red.details["stop_line"])
    n = (seg[1] - seg[0])[::-1] * [1, -1]
    side = lambda k_: np.sign((runner.poses[k_, :2] + runner.size[0] / 2 * np.array(  # noqa: E731
        [np.cos(np.radians(runner.poses[k_, 5])), np.sin(np.radians(runner.poses[k_, 5]))]) - seg[0]) @ n)
    assert side(kr - 1) != side(kr)  # front bumper crossed the line in (t_{k-1}, t_k]
    # both slow down after contact
    v = lambda a, k_: np.hypot(*(a.poses[k_ + 1, :2] - a.poses[k_, :2])) * sc.fps  # noqa: E731
    assert v(runner, len(sc.times) - 2) < 0.5 * v(runner, k - 2)
    # the victim had green on its approach
    vlight = [a for a in sc.actors if a.category == "traffic_light" and a.states[k] == "green"]
    assert vlight and all(a.attributes["group"] != light.attributes["group"] for a in vlight)


def test_near_miss_has_low_ttc_and_no_contact():
    sc = scene("near_miss")
    nm = next(e for e in sc.events if e.kind == "near_miss")
    assert nm.details["ttc"] < 1.5 and nm.details["min_gap"] > 0.3
    a, b = (sc.actor(i) for i in nm.actor_ids)
    for k in range(len(sc.times)):
        assert not rects_overlap(footprint(a, k), footprint(b, k))
    sp = np.hypot(*np.diff(a.poses[:, :2], axis=0).T) * sc.fps
    kb = int(np.searchsorted(sc.times, nm.t_start))
    assert sp[kb - 1] > 7.0 and sp[kb:].min() < 0.3  # hard brake to a stop


def test_jaywalker_crosses_away_from_crosswalks():
    sc = scene("jaywalking")
    ev = sc.events[0]
    ped = sc.actor(ev.actor_ids[0])
    assert ped.category == "pedestrian"
    lay = build_layout("intersection", 0)
    ks = np.flatnonzero((sc.times >= ev.t_start) & (sc.times <= ev.t_end))
    t, _ = lay.ground.lookup(ped.poses[ks, 0], ped.poses[ks, 1])
    assert np.isin(t, ROAD).all()
    d = np.array([[np.hypot(*(c.path.point_at(np.array([c.path.length / 2]))[0] - ped.poses[k, :2]))
                   for c in lay.crosswalks] for k in ks])
    assert d.min() > 5.0


def test_rush_hour_stops_at_red_lights():
    sc = scene("rush_hour")
    lay = build_layout("intersection", 0)
    lights = {a.id: a for a in sc.actors if a.category == "traffic_light"}
    waited = 0
    for a in moving(sc):
        if a.category == "pedestrian":
            continue
        entry = lay.lanes[a.attributes["route"][0]]
        yaw = np.radians(a.poses[:, 5])
        front = a.poses[:, :2] + a.size[0] / 2 * np.stack([np.cos(yaw), np.sin(yaw)], 1)
        s, off = entry.path.project(front)
        for k in range(len(sc.times) - 1):
            if s[k] < entry.stop_s <= s[k + 1] and abs(off[k]) < 1.0:
                assert lights[entry.light_id].states[k + 1] != "red", (a.id, k)
        near = (entry.stop_s - s < 4.0) & (entry.stop_s - s > 0.0)
        still = np.r_[np.hypot(*np.diff(a.poses[:, :2], axis=0).T) * sc.fps < 0.5, False]  # < 0.5 m/s
        red = np.array([st == "red" for st in lights[entry.light_id].states])
        waited += int(np.any(near & still & red))
    assert waited >= 1


def test_topdown_pngs_of_every_layout(tmp_path):
    out = Path("/tmp/scenario")
    for name in LAYOUTS:
        sc = scene("traffic", name, seed=0) if name != "intersection" else scene("collision")
        img = draw_scene(sc, len(sc.times) // 2, px_per_m=4)
        lay = sc.ground
        assert img.shape == (int(lay.tags.shape[0] * lay.resolution * 4), int(lay.tags.shape[1] * lay.resolution * 4),
                             3)
        # a traffic light's pixel shows its state colour
        tl = next(a for a in sc.actors if a.category == "traffic_light")
        col = img[int(round((tl.poses[0, 1] - lay.y0) * 4)), int(round((tl.poses[0, 0] - lay.x0) * 4))]
        expect = {"red": 0, "yellow": 0, "green": 1}[tl.states[len(sc.times) // 2]]
        assert int(np.argmax(col[:2])) == expect
        save_png(out / f"topdown_{name}.png", img)
    plain = draw_topdown(build_layout("straight", 0).ground, px_per_m=2)
    assert plain.dtype == np.uint8 and plain.shape == (300, 300, 3)
