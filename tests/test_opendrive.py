"""OpenDRIVE reader: planView geometry against analytic curves, lane widths/offsets/sections, driving directions,
the CARLA axis flip, the painted ground raster, the lane graph of a junction, error messages, and the replay wiring.
The .xodr files in tests/data were written for these tests (crossroads.xodr by a small script, see its header)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sdg.scenario.opendrive import OpenDriveError, layout_from_xodr, load_xodr
from sdg.scenario.opendrive_geometry import odr_to_carla
from sdg.tags import TAG

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[1]
STRAIGHT, GEOMS, LANES, CROSS = (DATA / f"{n}.xodr" for n in ("straight_two_lane", "geometries", "lanes",
                                                             "crossroads"))


def tag_at(layout, x, y) -> int:
    return int(layout.ground.lookup(np.array([x]), np.array([y]))[0][0])


def lane_ids(layout) -> dict:
    """(road id, section index, OpenDRIVE lane id) -> Layout lane id."""
    return {key: lid for lid, key in layout.info["lane_keys"].items()}


# ------------------------------------------------------------------------------------------------ straight road
def test_straight_road_tags_directions_and_header():
    od = load_xodr(STRAIGHT)
    assert od.header.name == "straight_two_lane" and od.header.rev == (1, 4)
    assert od.header.georeference.startswith("+proj=tmerc")
    lay = layout_from_xodr(STRAIGHT)
    assert lay.map_name == "straight_two_lane" and lay.signals is None and lay.static_specs == []
    assert lay.ground.resolution == pytest.approx(0.1)
    # CARLA y = -t: the left lane (t in [0, 3.5]) lies at y in [-3.5, 0]
    for y in (1.75, -1.75):
        assert tag_at(lay, 50.05, y) == TAG["road"]
    for y in (4.5, -4.5):
        assert tag_at(lay, 50.05, y) == TAG["sidewalk"]
    for y in (7.0, -7.0):
        assert tag_at(lay, 50.05, y) == TAG["terrain"]
    # solid white edge lines on the lane borders, broken yellow centre line: 3 m dash, 6 m gap from s = 0
    assert tag_at(lay, 50.05, 3.5) == TAG["road_line"] and tag_at(lay, 50.05, -3.5) == TAG["road_line"]
    assert tag_at(lay, 46.05, 0.0) == TAG["road_line"] and tag_at(lay, 50.05, 0.0) == TAG["road"]
    xs = np.arange(0.05, 90.0, 0.1)
    on = lay.ground.lookup(xs, np.zeros_like(xs))[0] == TAG["road_line"]
    assert on.mean() == pytest.approx(3.0 / 9.0, abs=0.015)  # cv2 fills edge cells: <= 1 extra cell per dash
    np.testing.assert_allclose(lay.lane_direction(50.0, 1.75), [1.0, 0.0], atol=1e-9)  # right lane along +x
    np.testing.assert_allclose(lay.lane_direction(50.0, -1.75), [-1.0, 0.0], atol=1e-9)  # left lane against
    assert lay.lane_direction(50.0, 4.5) is None
    ids = lane_ids(lay)
    right, left = lay.lanes[ids[("1", 0, -1)]], lay.lanes[ids[("1", 0, 1)]]
    assert lay.lane_at(np.array([50.0, 50.0, 50.0]), np.array([3.4, 3.6, -3.4])).tolist() == [right.id, -1, left.id]
    np.testing.assert_allclose(right.path.start, [0.0, 1.75], atol=1e-9)
    np.testing.assert_allclose(left.path.start, [100.0, -1.75], atol=1e-9)
    assert right.width == pytest.approx(3.5) and right.speed_limit == pytest.approx(40 / 3.6)
    assert right.kind == left.kind == "exit" and right.successors == [] and left.successors == []
    # lamps on both sidewalks, each with a light; a walk chain along each sidewalk centre (|y| = 4.5)
    assert len(lay.lights) >= 4 and {round(abs(l.position[1])) for l in lay.lights} == {2}
    assert set(np.round(np.abs(lay.walk_nodes[:, 1]), 6)) == {4.5}


# ------------------------------------------------------------------------------------------------ geometry
def test_arc_matches_the_analytic_circle():
    road = load_xodr(GEOMS).roads["10"]
    x0, y0, h0, k, L = 5.0, -3.0, 0.3, 0.02, 60.0
    R = 1 / k
    cx, cy = x0 - R * math.sin(h0), y0 + R * math.cos(h0)
    s = np.linspace(0, L, 13)
    x, y, h = road.reference.evaluate(s)
    np.testing.assert_allclose(x, cx + R * np.sin(h0 + k * s), atol=1e-9)
    np.testing.assert_allclose(y, cy - R * np.cos(h0 + k * s), atol=1e-9)
    np.testing.assert_allclose(h, h0 + k * s, atol=1e-12)
    # the layout lane (right lane, t = -1.75: radius R + 1.75) stays on its circle within 1 cm, in CARLA axes
    lay = layout_from_xodr(GEOMS)
    lane = lay.lanes[lane_ids(lay)[("10", 0, -1)]]
    d = np.hypot(lane.path.points[:, 0] - cx, lane.path.points[:, 1] + cy)
    assert np.abs(d - (R + 1.75)).max() < 0.01
    end = np.array([cx + (R + 1.75) * math.sin(h0 + k * L), -(cy - (R + 1.75) * math.cos(h0 + k * L))])
    assert np.hypot(*(lane.path.end - end)) < 0.01


def _clothoid_end(x0, y0, h0, c0, c1, L, n=400_000):
    """Independent Simpson integration of the clothoid to its end."""
    s = np.linspace(0.0, L, n + 1)
    h = h0 + c0 * s + (c1 - c0) / (2 * L) * s**2
    wts = np.ones(n + 1)
    wts[1:-1:2], wts[2:-1:2] = 4, 2
    step = L / n
    return x0 + step / 3 * (wts * np.cos(h)).sum(), y0 + step / 3 * (wts * np.sin(h)).sum()


@pytest.mark.parametrize("rid, x0, y0, h0, c0, c1, L", [("11", 0.0, 20.0, 0.1, 0.0, 0.04, 50.0),
                                                         ("12", -30.0, 0.0, -0.5, 0.01, -0.02, 40.0)])
def test_spiral_heading_and_position(rid, x0, y0, h0, c0, c1, L):
    road = load_xodr(GEOMS).roads[rid]
    x, y, h = road.reference.evaluate(np.array([0.0, L / 2, L]))
    assert h[2] == pytest.approx(h0 + (c0 + c1) / 2 * L, abs=1e-12)  # curvStart 0: k L / 2 exactly
    assert h[1] == pytest.approx(h0 + c0 * L / 2 + (c1 - c0) / (2 * L) * (L / 2) ** 2, abs=1e-12)
    ex, ey = _clothoid_end(x0, y0, h0, c0, c1, L)
    assert math.hypot(x[2] - ex, y[2] - ey) < 1e-4
    assert (x[0], y[0]) == pytest.approx((x0, y0))


def test_param_poly3_normalized_and_arc_length():
    od = load_xodr(GEOMS)
    rot = lambda h, u, v: (u * math.cos(h) - v * math.sin(h), u * math.sin(h) + v * math.cos(h))  # noqa: E731
    r13 = od.roads["13"]
    L = r13.length
    x, y, h = r13.reference.evaluate(np.array([L / 2, L]))
    du, dv = rot(0.2, 30.0, 4.0)  # p = 1: u = 30, v = 6 - 2
    assert (x[1], y[1]) == pytest.approx((10.0 + du, -40.0 + dv), abs=1e-9)
    assert h[1] == pytest.approx(0.2 + math.atan2(6.0, 30.0), abs=1e-12)  # u' = 30, v' = 12 - 6
    du, dv = rot(0.2, 15.0, 1.25)  # p = 0.5
    assert (x[0], y[0]) == pytest.approx((10.0 + du, -40.0 + dv), abs=1e-9)
    r14 = od.roads["14"]  # arcLength: p runs to the geometry length 25
    x, y, h = r14.reference.evaluate(np.array([10.0, 25.0]))
    np.testing.assert_allclose(np.c_[x, y], [[10.0, -60.0 + 0.4], [25.0, -60.0 + 2.5]], atol=1e-9)
    assert h[1] == pytest.approx(math.atan(0.008 * 25.0), abs=1e-12)


def test_poly3_end_point_and_heading():
    road = load_xodr(GEOMS).roads["15"]
    x, y, h = road.reference.evaluate(np.array([road.length]))
    u, v = 40.0, 0.002 * 40**2 - 0.00002 * 40**3
    ex, ey = 50.0 + u * math.cos(1.0) - v * math.sin(1.0), -20.0 + u * math.sin(1.0) + v * math.cos(1.0)
    assert math.hypot(x[0] - ex, y[0] - ey) < 0.01
    assert h[0] == pytest.approx(1.0 + math.atan(0.004 * 40 - 0.00006 * 40**2), abs=1e-4)


def test_several_geometries_chain():
    road = load_xodr(GEOMS).roads["16"]  # 20 m east, quarter circle r = 20 to the left, 15 m north
    x, y, h = road.reference.evaluate(np.array([10.0, 20 + 5 * math.pi, road.length]))
    np.testing.assert_allclose([x[0], y[0], h[0]], [10.0, 100.0, 0.0], atol=1e-9)
    np.testing.assert_allclose([x[1], y[1], h[1]], [20 + 20 * math.sin(math.pi / 4), 120 - 20 * math.cos(math.pi / 4),
                                                    math.pi / 4], atol=1e-9)
    np.testing.assert_allclose([x[2], y[2], h[2]], [40.0, 135.0, math.pi / 2], atol=1e-9)


# ------------------------------------------------------------------------------------------------ lanes
def test_lane_width_cubic_and_several_records():
    road = load_xodr(LANES).roads["20"]
    a, b, c, d, L = 3.0, 0.02, -0.001, 0.00001, 40.0
    assert float(road.lane_width(0, -1, L)) == pytest.approx(a + b * L + c * L**2 + d * L**3, abs=1e-12)
    assert float(road.lane_width(0, -1, 10.0)) == pytest.approx(3.11, abs=1e-12)
    np.testing.assert_allclose(road.lane_width(0, 1, np.array([10.0, 20.0, 30.0, 40.0])), [3.5, 3.5, 3.0, 2.5],
                               atol=1e-12)
    lay = layout_from_xodr(LANES)
    # painted road across x = 39.95: y from -w_left to +w_right (CARLA y = -t)
    ys = np.arange(-5.0, 5.0, 0.01)
    road_cells = lay.ground.lookup(np.full_like(ys, 39.95), ys)[0] == TAG["road"]
    wl, wr = float(road.lane_width(0, 1, 39.95)), float(road.lane_width(0, -1, 39.95))
    assert ys[road_cells].min() == pytest.approx(-wl, abs=0.11) and ys[road_cells].max() == pytest.approx(wr, abs=0.11)


def test_lane_offset_shifts_the_lanes():
    road = load_xodr(LANES).roads["21"]  # laneOffset 1.0 to s = 25, then 1.0 + 0.04 ds
    b = road.lane_borders(0, np.array([10.0, 50.0]))
    np.testing.assert_allclose(b[0][0], [1.0, 2.0])
    np.testing.assert_allclose(b[1][1], [4.5, 5.5])
    np.testing.assert_allclose(b[-1][1], [-2.5, -1.5])
    lay = layout_from_xodr(LANES)
    lane = lay.lanes[lane_ids(lay)[("21", 0, -1)]]  # centre t = offset - 1.75, CARLA y = -(30 + t)
    np.testing.assert_allclose(lane.path.point_at(np.array([10.0]))[0], [10.0, -(30 + 1.0 - 1.75)], atol=1e-9)
    np.testing.assert_allclose(lane.path.end, [50.0, -(30 + 2.0 - 1.75)], atol=1e-9)


def test_lane_sections_links_and_left_hand_traffic():
    lay = layout_from_xodr(LANES)
    ids = lane_ids(lay)
    lanes = lay.lanes
    assert lanes[ids[("22", 0, -1)]].successors == [ids[("22", 1, -1)]]
    assert lanes[ids[("22", 0, -2)]].successors == [ids[("22", 1, -1)]]  # merges
    assert sorted(lanes[ids[("22", 1, -1)]].predecessors) == sorted([ids[("22", 0, -1)], ids[("22", 0, -2)]])
    assert lanes[ids[("22", 1, 1)]].successors == [ids[("22", 0, 1)]]  # left lane drives toward s = 0
    np.testing.assert_allclose(lanes[ids[("22", 1, 1)]].path.start, [60.0, -61.75], atol=1e-9)
    np.testing.assert_allclose(lanes[ids[("22", 0, -2)]].path.end, [30.0, -(60 - 5.25)], atol=1e-9)
    assert lanes[ids[("22", 0, -2)]].index == 1 and lanes[ids[("22", 0, -1)]].index == 0
    # section 0 has three lanes and a broken white line between -1 and -2 (t = -3.5, CARLA y = -56.5)
    assert tag_at(lay, 1.05, -56.5) == TAG["road_line"] and tag_at(lay, 5.05, -56.5) == TAG["road"]
    assert tag_at(lay, 15.05, -60 + 5.25) == TAG["road"] and tag_at(lay, 45.05, -60 + 5.25) == TAG["terrain"]
    # rule="LHT": left lanes (t > 0, CARLA y < -90) drive along the reference line
    np.testing.assert_allclose(lay.lane_direction(15.0, -91.75), [1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(lay.lane_direction(15.0, -88.25), [-1.0, 0.0], atol=1e-9)


XODR_NORTH = """<?xml version="1.0"?>
<OpenDRIVE><header revMajor="1" revMinor="4" name="north"/>
<road id="5" length="50" junction="-1">
 <planView><geometry s="0" x="0" y="0" hdg="1.5707963267948966" length="50"><line/></geometry></planView>
 <lanes><laneSection s="0">
  <left><lane id="1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></left>
  <center><lane id="0" type="none"/></center>
  <right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
 </laneSection></lanes>
</road></OpenDRIVE>
"""


def test_carla_axis_flip_road_heading_north(tmp_path):
    p = tmp_path / "north.xodr"
    p.write_text(XODR_NORTH)
    x, y, h = load_xodr(p).roads["5"].reference.evaluate(np.array([50.0]))
    np.testing.assert_allclose([x[0], y[0]], [0.0, 50.0], atol=1e-9)  # ODR: north is +y
    cx, cy, ch = odr_to_carla(x, y, h)
    assert cy[0] == pytest.approx(-50.0) and ch[0] == pytest.approx(-math.pi / 2)
    lay = layout_from_xodr(p)
    assert lay.map_name == "north"  # the header name
    ids = lane_ids(lay)
    right, left = lay.lanes[ids[("5", 0, -1)]], lay.lanes[ids[("5", 0, 1)]]
    # northbound traffic (CARLA -y) keeps right, i.e. east (+x); southbound on the west side
    np.testing.assert_allclose(right.path.start, [1.75, 0.0], atol=1e-9)
    np.testing.assert_allclose(right.path.end, [1.75, -50.0], atol=1e-9)
    np.testing.assert_allclose(lay.lane_direction(1.75, -25.0), [0.0, -1.0], atol=1e-9)
    np.testing.assert_allclose(lay.lane_direction(-1.75, -25.0), [0.0, 1.0], atol=1e-9)
    assert left.path.start[1] == pytest.approx(-50.0)
    assert tag_at(lay, 1.75, -25.0) == TAG["road"] and tag_at(lay, 1.75, 25.0) == TAG["terrain"]
    assert lay.extent[1] < -50.0 < 0.0 < lay.extent[3] < 15.0


# ------------------------------------------------------------------------------------------------ junction
def test_junction_lane_graph_ground_and_walk_graph():
    lay = layout_from_xodr(CROSS)
    kinds = [l.kind for l in lay.lanes.values()]
    assert (kinds.count("entry"), kinds.count("exit"), kinds.count("junction")) == (8, 8, 16)
    moves = [l.movement for l in lay.lanes_of("junction")]
    assert (moves.count("straight"), moves.count("left"), moves.count("right")) == (8, 4, 4)
    for e in lay.lanes_of("entry"):
        assert e.successors and all(lay.lanes[j].kind == "junction" for j in e.successors)
        for j in e.successors:
            assert lay.lanes[j].predecessors == [e.id]
            (x,) = lay.lanes[j].successors
            assert lay.lanes[x].kind == "exit"
            assert np.hypot(*(lay.lanes[j].path.end - lay.lanes[x].path.start)) < 1e-6
            assert np.hypot(*(lay.lanes[j].path.start - e.path.end)) < 1e-6
    ids = lane_ids(lay)
    # east arm (road 1), outer inbound lane 2 turns right onto the north arm (road 2; CARLA y < 0) lane -2
    (rt,) = [lay.lanes[j] for j in lay.lanes[ids[("1", 0, 2)]].successors if lay.lanes[j].movement == "right"]
    assert lay.lanes[rt.successors[0]].arm == "2" and rt.path.end[1] < 0
    np.testing.assert_allclose(rt.path.end, [5.25, -11.0], atol=1e-9)
    assert rt.speed_limit == pytest.approx(40 / 3.6)  # inherited from the arm
    # straight east->west crosses straight north->south
    ew = lay.lanes[ids[("101", 0, -1)]]
    ns = [lay.lanes[ids[(r, 0, -1)]] for r in ("104", "110")]
    assert all(n.id in ew.conflicts and ew.id in n.conflicts for n in ns)
    assert lay.lane_direction(0.0, 0.0) is None  # the junction box has no single direction
    # ground: junction box road, rounded kerb corner sidewalk, block grass, zebra bars on the crossings
    assert tag_at(lay, 0.05, 0.05) == TAG["road"] and tag_at(lay, 8.0, 8.0) == TAG["road"]
    assert tag_at(lay, 10.5, 10.5) == TAG["sidewalk"] and tag_at(lay, 20.0, 20.0) == TAG["terrain"]
    assert len(lay.crosswalks) == 4
    xs = np.arange(11.55, 14.95, 0.1)
    cells = lay.ground.lookup(np.full((70, len(xs)), 0.0) + xs, np.linspace(-6.5, 6.5, 70)[:, None] + 0 * xs)[0]
    assert 0.4 < np.mean(cells == TAG["road_line"]) < 0.65
    # walk graph: sidewalks of arms and corners meet, crossings link them: one connected component
    parent = list(range(len(lay.walk_nodes)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for e in lay.walk_edges:
        parent[root(e.a)] = root(e.b)
    assert len({root(i) for i in range(len(parent))}) == 1
    assert sum(e.kind == "crosswalk" for e in lay.walk_edges) == 4
    assert len(lay.walk_dead_ends) == 8  # the sidewalk ends at the 4 arm tips


def test_layout_is_cached_and_seeded():
    a, b = layout_from_xodr(STRAIGHT), layout_from_xodr(str(STRAIGHT))
    assert a is b
    c = layout_from_xodr(STRAIGHT, seed=5)
    assert c is not a and np.array_equal(c.ground.tags, a.ground.tags)
    assert [l.position for l in c.lights] != [l.position for l in a.lights]


# ------------------------------------------------------------------------------------------------ errors
ROAD = """<road id="7" length="{length}" junction="-1">{planview}
 <lanes><laneSection s="0">
  <center><lane id="0" type="none"/></center>
  <right>{lanes}</right>
 </laneSection></lanes></road>"""
PLANVIEW = '<planView><geometry s="0" x="0" y="0" hdg="0" length="10"><line/></geometry>{more}</planView>'
LANE = '<lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane>'


def _xodr(length="10", planview=PLANVIEW.format(more=""), lanes=LANE, root="OpenDRIVE"):
    return (f'<?xml version="1.0"?>\n<{root}><header name="bad"/>\n'
            + ROAD.format(length=length, planview=planview, lanes=lanes) + f"\n</{root}>\n")


@pytest.mark.parametrize("text, needles", [
    ("<OpenDRIVE><road id='1'>\n<planView>\n</OpenDRIVE>", ["not valid XML", "line 3"]),
    (_xodr(root="Map"), ["root element <Map>", "not an OpenDRIVE file"]),
    (_xodr(planview=""), ["road 7", "no <planView>"]),
    (_xodr(planview="<planView/>"), ["road 7", "<planView> has no <geometry>"]),
    (_xodr(planview=PLANVIEW.format(more='<geometry s="10" x="10" y="0" hdg="0" length="5"><clothoid/></geometry>')),
     ["road 7 geometry #1", "unknown geometry type <clothoid>", "line 3"]),
    (_xodr(planview=PLANVIEW.format(more='<geometry s="10" x="10" y="0" hdg="0" length="-5"><line/></geometry>')),
     ["road 7 geometry #1", "length must be > 0"]),
    (_xodr(planview=PLANVIEW.format(more='<geometry s="10" x="abc" y="0" hdg="0" length="5"><line/></geometry>')),
     ["road 7 geometry #1", "attribute 'x' is not a number: 'abc'"]),
    (_xodr(planview=PLANVIEW.format(more='<geometry s="10" x="1" y="0" hdg="0" length="5"><arc/></geometry>')),
     ["road 7 geometry #1 <arc>", "attribute 'curvature' is missing"]),
    (_xodr(lanes='<lane id="-1" type="driving"><width sOffset="0" a="1.0" b="-0.2" c="0" d="0"/></lane>'),
     ["road 7 laneSection #0", "lane -1", "width -1.000 m", "must be >= 0"]),
    (_xodr(lanes='<lane id="-1" type="driving"/>'), ["road 7 laneSection #0 lane -1", "no <width>"]),
    (_xodr(lanes='<lane id="-1" type="driving"><border sOffset="0" a="3"/></lane>'),
     ["lane -1", "<border> lane records are not supported"]),
    (_xodr(lanes=LANE + LANE.replace('"-1"', '"-3"')), ["road 7 laneSection #0", "not consecutive", "[-1, -3]"]),
    (_xodr(lanes=LANE.replace('"-1"', '"2"')), ["road 7 laneSection #0 lane 2", "lane id 2 is not allowed in <right>"]),
])
def test_malformed_files_name_the_element(tmp_path, text, needles):
    p = tmp_path / "bad.xodr"
    p.write_text(text)
    with pytest.raises(OpenDriveError) as ei:
        load_xodr(p)
    msg = str(ei.value)
    assert str(p) in msg
    for n in needles:
        assert n in msg, (n, msg)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere.xodr"):
        layout_from_xodr(DATA / "nowhere.xodr")


# ------------------------------------------------------------------------------------------------ replay wiring
def test_replay_uses_the_xodr_layout():
    from sdg.config import RecordingScenario
    from sdg.scenario.replay import scene_from_recording

    rec = ROOT / "configs/recordings"
    spec = RecordingScenario(kind="recording", id="rec-xodr", log=rec / "intersection_collision.log",
                             scenario_json=rec / "intersection_collision.json", xodr=CROSS, fps=5)
    scene = scene_from_recording(spec)
    lay = layout_from_xodr(CROSS)
    assert scene.ground is lay.ground and len(scene.props) == len(lay.props) and len(scene.lights) == len(lay.lights)
    road_like = {TAG["road"], TAG["road_line"]}
    veh = ped = 0
    for a in scene.actors:
        x, y = a.poses[:, 0], a.poses[:, 1]
        inside = (np.abs(x) < 74) & (np.abs(y) < 74)  # the crossroads' arms end at 75 m
        tags = scene.ground.lookup(x[inside], y[inside])[0]
        if a.category in ("car", "van", "truck", "bus", "motorcycle", "bicycle"):
            assert set(tags.tolist()) <= road_like, (a.id, a.category)
            veh += len(tags)
        elif a.category == "pedestrian":
            assert np.all(tags == TAG["sidewalk"]), a.id
            ped += len(tags)
    assert veh > 100 and ped > 50


MARKS = """<?xml version="1.0"?>
<OpenDRIVE><header name="marks"/>
<road id="8" length="40" junction="-1">
 <planView><geometry s="0" x="0" y="0" hdg="0" length="40"><line/></geometry></planView>
 <lanes><laneSection s="0">
  <left><lane id="1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/>
    <roadMark sOffset="0" type="custom" width="0.2">
      <type name="short"><line length="1" space="1" tOffset="0" sOffset="0"/></type>
    </roadMark>
  </lane></left>
  <center><lane id="0" type="none">
    <roadMark sOffset="0" type="solid broken" color="yellow" width="0.3"/></lane></center>
  <right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/>
    <roadMark sOffset="0" type="solid"/><roadMark sOffset="20" type="none"/></lane></right>
 </laneSection></lanes>
</road></OpenDRIVE>
"""


def test_road_mark_patterns(tmp_path):
    p = tmp_path / "marks.xodr"
    p.write_text(MARKS)
    lay = layout_from_xodr(p)
    line = TAG["road_line"]
    # "solid broken": the solid line on the +t side (CARLA y < 0), the broken one (3 m on, 6 m off) on the -t side
    assert tag_at(lay, 1.05, -0.3) == line and tag_at(lay, 1.05, 0.3) == line
    assert tag_at(lay, 5.05, -0.3) == line and tag_at(lay, 5.05, 0.3) == TAG["road"]
    assert tag_at(lay, 1.05, 0.05) == TAG["road"] and tag_at(lay, 1.05, -0.05) == TAG["road"]  # gap between them
    # explicit <type><line length=1 space=1>: half of the left lane's outer border (t = 3.5, CARLA y = -3.5)
    xs = np.arange(0.05, 40.0, 0.1)
    on = lay.ground.lookup(xs, np.full_like(xs, -3.5))[0] == line
    assert on.mean() == pytest.approx(0.5, abs=0.06)
    # a solid white edge that stops where the next roadMark (type none) begins
    assert tag_at(lay, 10.05, 3.5) == line and tag_at(lay, 30.05, 3.5) == TAG["road"]
    yellow = lay.ground.albedo[lay.ground.tags == line]
    assert len(yellow) and (yellow[:, 0].astype(int) - yellow[:, 2]).max() > 100  # yellow paint present
