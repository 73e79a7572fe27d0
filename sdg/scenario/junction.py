"""The axis-aligned junction builder behind the built-in layouts: up to four arms (N, E, S, W) meeting at the world
origin, each a carriageway of n lanes per direction (optionally split by a median), with sidewalks, kerb fillets,
zebra crossings, stop lines, lane markings, signal heads, signs, street lamps, trees and buildings.

Geometry along an arm (distances from the origin along the arm's outward direction u):
    0 .. b                 the junction box (b = half width of the crossing road; 0 for a straight street)
    b + fillet .. + cw     the zebra crossing (for a straight street: centred at 0)
    d_stop                 the stop line (1 m beyond the crossing); entry lanes end here, exit lanes start here
    .. extent              the arm runs to the edge of the ground raster
Lateral positions use lat = u rotated +90 deg (for the E arm, lat = +y); entry lanes lie at negative lat (vehicles
drive on the right), exit lanes at positive lat.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from sdg.scenario import ground as g
from sdg.scenario.layout_model import STATIC_ID_BASE, Crosswalk, Lane, Layout, StaticActorSpec, WalkEdge, mark_conflicts
from sdg.scenario.polyline import Polyline, arc, line, turn
from sdg.scenario.props import place_buildings, place_lamps, place_trees
from sdg.scenario.signals import Phase, SignalPlan, two_group_plan
from sdg.tags import TAG

ARM_DIR = {"E": (1.0, 0.0), "S": (0.0, 1.0), "W": (-1.0, 0.0), "N": (0.0, -1.0)}
AXIS = {"E": "ew", "W": "ew", "N": "ns", "S": "ns"}
OPPOSITE = {"E": "W", "W": "E", "N": "S", "S": "N"}

# texture materials
M_ASPHALT, M_GRASS, M_CONCRETE, M_PAINT = 1, 2, 3, 4


@dataclass
class JunctionSpec:
    name: str
    arms: tuple[str, ...]
    lanes: dict[str, int]  # per axis ("ew", "ns"): lanes per direction
    median: dict[str, float] = field(default_factory=lambda: {"ew": 0.0, "ns": 0.0})  # metres, 0 = painted line
    speed_kmh: dict[str, float] = field(default_factory=lambda: {"ew": 40.0, "ns": 40.0})
    lane_width: float = 3.5
    sidewalk: float = 4.0
    fillet: float = 4.0
    crosswalk: float = 4.0
    extent: float = 75.0
    resolution: float = 0.05
    green: float = 12.0  # vehicle green per group, seconds


class _Arm:
    def __init__(self, name: str, spec: JunctionSpec):
        self.name = name
        self.u = np.array(ARM_DIR[name])
        self.lat = np.array([-self.u[1], self.u[0]])
        self.axis = AXIS[name]
        self.n = spec.lanes[self.axis]
        self.median = spec.median[self.axis]
        self.hw = self.median / 2 + self.n * spec.lane_width
        self.speed = spec.speed_kmh[self.axis] / 3.6

    def at(self, d, l) -> np.ndarray:
        """World point at distance d along the arm and lateral l."""
        return self.u * d + self.lat * l

    def rect(self, d0, d1, l0, l1) -> np.ndarray:
        return np.array([self.at(d0, l0), self.at(d1, l0), self.at(d1, l1), self.at(d0, l1)])

    def lane_offset(self, k: int, lane_width: float) -> float:
        return self.median / 2 + (k + 0.5) * lane_width


def _heading(v) -> float:
    return float(np.arctan2(v[1], v[0]))


def build_junction(spec: JunctionSpec, seed: int) -> Layout:
    rng = np.random.default_rng([seed, 7101])
    arms = {a: _Arm(a, spec) for a in spec.arms}
    E, w, sw, rf, cw = spec.extent, spec.lane_width, spec.sidewalk, spec.fillet, spec.crosswalk
    axes = {a.axis for a in arms.values()}
    crossing = len(axes) == 2
    hw = {ax: next(a.hw for a in arms.values() if a.axis == ax) for ax in axes}
    other = {"ew": "ns", "ns": "ew"}

    # distances along each arm
    geo = {}
    for a in arms.values():
        b = hw[other[a.axis]] if crossing else 0.0
        c0 = b + rf if crossing else -cw / 2
        geo[a.name] = dict(b=b, c0=c0, c1=c0 + cw, d_stop=c0 + cw + 1.0)

    def quadrant_has(a: _Arm, side: float) -> bool:
        """Is there an arm in direction side*lat of arm a (i.e. a corner on that side)?"""
        v = side * a.lat
        return any(np.allclose(v, ARM_DIR[n]) for n in arms)

    # ------------------------------------------------------------------------------------- ground raster
    gp = g.GroundPainter(-E, -E, E, E, spec.resolution, tag=TAG["terrain"], color=g.GRASS)
    gp.material[:] = M_GRASS
    for a in arms.values():  # sidewalk bands on both sides
        for side in (-1, 1):
            gp.fill(a.rect(0, E, side * a.hw, side * (a.hw + sw)), TAG["sidewalk"], g.CONCRETE, M_CONCRETE)
    road = []
    for a in arms.values():
        road.append(a.rect(0, E, -a.hw, a.hw))
    if crossing:  # kerb fillets at the corners that have both arms
        for sx in (-1, 1):
            for sy in (-1, 1):
                hx, vy = ("E" if sx > 0 else "W"), ("S" if sy > 0 else "N")
                if hx in arms and vy in arms:
                    cx, cy = sx * hw["ns"], sy * hw["ew"]
                    q = (sx * (hw["ns"] + rf), sy * (hw["ew"] + rf))
                    a0 = np.arctan2(-sy, 0.0)
                    a1 = np.arctan2(0.0, -sx)
                    da = (a1 - a0 + np.pi) % (2 * np.pi) - np.pi
                    pts = arc(q, rf, a0, a0 + da, 0.1)
                    road.append(np.concatenate([[[cx, cy]], pts]))
    gp.fill(road, TAG["road"], g.ASPHALT, M_ASPHALT)
    for a in arms.values():  # medians: concrete kerb ring around a grass strip
        if a.median > 0:
            d0 = geo[a.name]["d_stop"] + 2.0
            gp.fill(a.rect(d0, E, -a.median / 2, a.median / 2), TAG["sidewalk"], g.KERB, M_CONCRETE)
            if a.median > 0.8:
                m = a.median / 2 - 0.3
                gp.fill(a.rect(d0 + 0.3, E, -m, m), TAG["terrain"], g.GRASS, M_GRASS)
    # kerb stones: sidewalk cells touching the road get the lighter kerb colour
    road_mask = (gp.tags == TAG["road"]).astype(np.uint8)
    k = max(1, int(round(0.25 / spec.resolution)))
    near = cv2.dilate(road_mask, np.ones((2 * k + 1, 2 * k + 1), np.uint8)) > 0
    kerb = near & (gp.tags == TAG["sidewalk"])
    gp.albedo[kerb] = g.KERB

    paint = []  # (polygon, colour)
    for a in arms.values():
        d_stop, c1 = geo[a.name]["d_stop"], geo[a.name]["c1"]
        # centre line: double yellow, or the median's edge lines
        if a.median <= 0:
            for l in (-0.11, 0.11):
                paint.append((a.rect(d_stop, E, l - 0.05, l + 0.05), g.LINE_YELLOW))
        else:
            for side in (-1, 1):
                l = side * (a.median / 2 + 0.25)
                paint.append((a.rect(d_stop, E, l - 0.06, l + 0.06), g.LINE_YELLOW if side < 0 else g.LINE_WHITE))
        # lane dividers: entry side solid for 15 m before the stop line, dashed beyond; exit side dashed
        for j in range(1, a.n):
            l = a.median / 2 + j * w
            paint.append((a.rect(d_stop, d_stop + 15, -l - 0.06, -l + 0.06), g.LINE_WHITE))
            for p in g.dashes(a.at(d_stop + 15, -l), a.at(E, -l), 0.12, 3.0, 6.0, 3.0):
                paint.append((p, g.LINE_WHITE))
            for p in g.dashes(a.at(c1 + 1.0, l), a.at(E, l), 0.12, 3.0, 6.0):
                paint.append((p, g.LINE_WHITE))
        # edge lines
        for side in (-1, 1):
            l = side * (a.hw - 0.35)
            paint.append((a.rect(c1 + 1.0 if side > 0 else d_stop, E, l - 0.075, l + 0.075), g.LINE_WHITE))
        # stop line across the entry lanes
        paint.append((a.rect(d_stop - 0.2, d_stop + 0.2, -a.hw + 0.15, -a.median / 2 - 0.05), g.LINE_WHITE))
    # zebra crossings
    crosswalks: list[Crosswalk] = []
    for a in arms.values():
        if not crossing and a.name != "E" and "E" in arms:
            continue  # a straight street has one crossing, built from its E arm
        c0, c1 = geo[a.name]["c0"], geo[a.name]["c1"]
        bar, pitch = 0.5, 1.0
        nbar = int(np.floor((2 * a.hw - 0.5) / pitch))
        l_start = -(nbar - 1) * pitch / 2
        for i in range(nbar):
            l = l_start + i * pitch
            paint.append((a.rect(c0, c1, l - bar / 2, l + bar / 2), g.LINE_WHITE))
        p_walk = a.hw + sw / 2
        cm = 0.5 * (c0 + c1)
        path = Polyline(line(a.at(cm, p_walk), a.at(cm, -p_walk)))
        crosswalks.append(Crosswalk(id=len(crosswalks), arm=a.name, path=path, width=cw, signalised=True,
                                    polygon=a.rect(c0, c1, -a.hw, a.hw), kerbs=(p_walk - a.hw, p_walk + a.hw)))
    gp.fill([p for p, c in paint if c == g.LINE_WHITE], TAG["road_line"], g.LINE_WHITE, M_PAINT)
    gp.fill([p for p, c in paint if c == g.LINE_YELLOW], TAG["road_line"], g.LINE_YELLOW, M_PAINT)
    gp.texture(seed=int(rng.integers(1 << 31)), amplitude={M_ASPHALT: 0.07, M_GRASS: 0.2, M_CONCRETE: 0.05,
                                                          M_PAINT: 0.03})
    ground = gp.ground_map()
    del gp

    # ------------------------------------------------------------------------------------- signal heads
    static: list[StaticActorSpec] = []
    light_of_arm: dict[str, int] = {}
    for a in arms.values():
        d_stop = geo[a.name]["d_stop"]
        loc = a.at(d_stop + 1.0, -(a.hw + 0.7))
        sid = STATIC_ID_BASE + 1 + len(static)
        static.append(StaticActorSpec(id=sid, type_id="traffic.traffic_light", category="traffic_light",
                                      location=(float(loc[0]), float(loc[1]), 0.0), yaw=np.degrees(_heading(a.u)),
                                      size=(0.6, 0.6, 4.5), group=a.axis, color=(45, 47, 50),
                                      attributes={"group": a.axis, "arm": a.name, "faces": "+x"}))
        light_of_arm[a.name] = sid
    for a in arms.values():
        d = geo[a.name]["d_stop"] + 28.0
        loc = a.at(d, a.hw + 0.6)
        kmh = int(round(a.speed * 3.6))
        static.append(StaticActorSpec(id=STATIC_ID_BASE + 1 + len(static), type_id=f"traffic.speed_limit.{kmh}",
                                      category="traffic_sign", location=(float(loc[0]), float(loc[1]), 0.0),
                                      yaw=np.degrees(_heading(-a.u)), size=(0.12, 0.75, 2.6), color=(205, 205, 205),
                                      attributes={"speed_limit_kmh": kmh, "arm": a.name, "faces": "+x"}))

    # ------------------------------------------------------------------------------------- lanes
    lanes: dict[int, Lane] = {}

    def add(lane: Lane) -> Lane:
        lanes[lane.id] = lane
        return lane

    entry: dict[tuple[str, int], Lane] = {}
    exit_: dict[tuple[str, int], Lane] = {}
    for a in arms.values():
        d_stop = geo[a.name]["d_stop"]
        for k in range(a.n):
            o = a.lane_offset(k, w)
            pe = Polyline(line(a.at(E, -o), a.at(d_stop, -o)))
            entry[(a.name, k)] = add(Lane(id=len(lanes), path=pe, width=w, speed_limit=a.speed, kind="entry",
                                          arm=a.name, index=k, stop_s=pe.length, light_id=light_of_arm[a.name]))
            px = Polyline(line(a.at(d_stop, o), a.at(E, o)))
            exit_[(a.name, k)] = add(Lane(id=len(lanes), path=px, width=w, speed_limit=a.speed, kind="exit",
                                          arm=a.name, index=k))
    for a in arms.values():
        h_in = -a.u
        for b in arms.values():
            if b.name == a.name:
                continue
            cr = h_in[0] * b.u[1] - h_in[1] * b.u[0]
            move = "straight" if b.name == OPPOSITE[a.name] else ("right" if cr > 0 else "left")
            if move == "straight":
                pairs = [(k, min(k, b.n - 1)) for k in range(a.n)]
            elif move == "left":
                pairs = [(0, 0)]
            else:
                pairs = [(a.n - 1, b.n - 1)]
            for ka, kb in pairs:
                src, dst = entry[(a.name, ka)], exit_[(b.name, kb)]
                p0, p1 = src.path.end, dst.path.start
                if move == "straight":
                    path = Polyline(line(p0, p1))
                else:
                    if move == "right":
                        radius = rf + (a.hw - a.lane_offset(ka, w))
                    else:
                        radius = min(geo[a.name]["b"] + a.lane_offset(ka, w), 12.0)
                    path = turn(p0, _heading(h_in), p1, _heading(b.u), radius=radius)
                lane = add(Lane(id=len(lanes), path=path, width=w, speed_limit=min(a.speed, b.speed), kind="junction",
                                movement=move, priority={"straight": 2, "right": 1, "left": 0}[move]))
                src.successors.append(lane.id)
                lane.predecessors.append(src.id)
                lane.successors.append(dst.id)
                dst.predecessors.append(lane.id)
    mark_conflicts(lane for lane in lanes.values() if lane.kind == "junction")  # one junction: all its connectors

    # ------------------------------------------------------------------------------------- walk graph
    nodes: list[np.ndarray] = []

    def node(p) -> int:
        p = np.round(np.asarray(p, float), 3)
        for i, q in enumerate(nodes):
            if np.allclose(p, q, atol=1e-3):
                return i
        nodes.append(p)
        return len(nodes) - 1

    edges: list[WalkEdge] = []
    dead_ends: set[int] = set()
    cw_by_arm = {c.arm: c for c in crosswalks}
    for a in arms.values():
        for side in (-1, 1):
            p = side * (a.hw + sw / 2)
            if crossing and quadrant_has(a, side):
                other_arm = next(x for x in arms.values() if np.allclose(side * a.lat, x.u))
                t0 = other_arm.hw + sw / 2
            else:
                t0 = 0.0
            stops = [t0]
            c = cw_by_arm.get(a.name)
            if c is not None:
                cm = 0.5 * (geo[a.name]["c0"] + geo[a.name]["c1"])
                if cm > t0 + 1e-6:
                    stops.append(cm)
            stops.append(E - 1.0)
            ids = [node(a.at(t, p)) for t in stops]
            dead_ends.add(ids[-1])
            for i0, i1 in zip(ids[:-1], ids[1:]):
                edges.append(WalkEdge(i0, i1, "sidewalk"))
    for c in crosswalks:
        edges.append(WalkEdge(node(c.path.start), node(c.path.end), "crosswalk", c.id))
    walk_nodes = np.array(nodes)

    # ------------------------------------------------------------------------------------- signal plan
    longest = max(c.path.length for c in crosswalks) if crosswalks else 0.0
    walk = float(np.ceil(longest / 1.3)) + 2.0
    if crossing:
        plan = two_group_plan("ew", "ns", green=spec.green, walk=walk)
    else:
        plan = SignalPlan([
            Phase("ew_green", 2 * spec.green, green=frozenset({"ew"})),
            Phase("ew_yellow", 3.0, yellow=frozenset({"ew"})),
            Phase("ew_all_red", 2.0),
            Phase("walk", walk, walk=True),
            Phase("walk_clear", 3.0),
        ])

    # ------------------------------------------------------------------------------------- props, lamps
    keep_out = [np.array(s.location[:2]) for s in static] + [c.path.point_at(np.array([c.path.length / 2]))[0]
                                                             for c in crosswalks]
    props, lights = [], []
    lamp_props, lamp_lights = place_lamps(arms.values(), geo, E, sw, keep_out, rng)
    props += lamp_props
    lights += lamp_lights
    keep_out += [np.array(l.position[:2]) for l in lamp_lights]
    props += place_trees(arms.values(), geo, E, sw, keep_out, rng, crossing, quadrant_has)
    props += place_buildings(arms, hw, E, sw, rng, crossing)

    info = {"half_width": hw, "geometry": geo, "sidewalk": sw, "lane_width": w,
            "arms": list(arms), "crossing": crossing}
    return Layout(name=spec.name, map_name=spec.name, seed=seed, ground=ground, props=props, lights=lights,
                  lanes=lanes, crosswalks=crosswalks, walk_nodes=walk_nodes, walk_edges=edges,
                  static_specs=static, signals=plan, extent=(-E, -E, E, E), walk_dead_ends=dead_ends, info=info)


# ------------------------------------------------------------------------------------------------- layouts
def intersection(seed: int) -> Layout:
    return build_junction(JunctionSpec("intersection", ("N", "E", "S", "W"), lanes={"ew": 2, "ns": 2}), seed)


def t_junction(seed: int) -> Layout:
    return build_junction(JunctionSpec("t_junction", ("E", "S", "W"), lanes={"ew": 2, "ns": 2}), seed)


def straight(seed: int) -> Layout:
    return build_junction(JunctionSpec("straight", ("E", "W"), lanes={"ew": 2, "ns": 2}), seed)


def arterial(seed: int) -> Layout:
    return build_junction(
        JunctionSpec("arterial", ("N", "E", "S", "W"), lanes={"ew": 3, "ns": 2}, median={"ew": 2.0, "ns": 0.0},
                     speed_kmh={"ew": 50.0, "ns": 40.0}, extent=80.0, green=15.0),
        seed,
    )
