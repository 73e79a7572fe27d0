"""The road `Layout` of an OpenDRIVE map (.xodr, revisions 1.4-1.6) for the CPU simulator.

    layout_from_xodr(path, seed=0) -> Layout       ground raster, lanes, walk graph, crosswalks, lamps (CARLA frame)
    layout_from_model(od, seed=0) -> Layout        the same from a parsed model (not cached)
    load_xodr(path) -> OpenDrive                   the parsed model (ODR frame); the XML reader is
                                                   sdg.scenario.opendrive_reader (what is read, errors), the
                                                   records sdg.scenario.opendrive_model

Frames: the model is in the OpenDRIVE inertial frame (x east, y north, counter-clockwise headings, t positive to
the left). The Layout is in CARLA's frame: x_carla = x_odr, y_carla = -y_odr, heading_carla = -heading_odr (this
is how CARLA imports OpenDRIVE maps, so CARLA recordings line up with the layout).

Layout content:
    ground raster (default 0.1 m/cell, the roads' bounding box + `margin`), painted in this order (later wins):
        background        terrain (10), grass
        shoulder, border  ground (25), gravel colour          restricted lanes likewise
        median            terrain (10), grass
        rail, tram        rail_track (27)
        sidewalk, curb    sidewalk (2), concrete (kerb colour next to the road)
        driving and other vehicle lanes (entry, exit, on/offRamp, connectingRamp, bidirectional, parking, biking,
                          bus, taxi, HOV, slipLane, stop, roadWorks)     road (1), asphalt
        roadMark lines    road_line (24): solid, broken (3 m dash, 6 m gap), double lines, botts dots; white/yellow
        crosswalks        road_line (24) zebra bars (0.5 m bar, 0.5 m gap) across the crossing
    lanes: one `Lane` per (road, lane section, driving-type lane), centre polyline in the DRIVING direction (right
        lanes (id < 0) along the reference line in right-hand traffic, left lanes against it; reversed for
        rule="LHT"); width = median width over the section; speed from lane/road speed records, else (junction
        connectors) the slowest predecessor's, else 50 km/h;
        kind "junction" on connecting roads (junction != -1; movement straight/left/right from the heading change),
        "entry" for lanes whose driving end is the road end that links to a junction, else "exit"; successors and
        predecessors from the lane links (within a road, road to road, and the junctions' connections).
        `Layout.info["lane_keys"][lane.id] = (road id, section index, OpenDRIVE lane id)`.
    walk graph: sidewalk lane centre lines (nodes <= 5 m apart, merged within 0.5 m across roads) + crosswalks.
    props: street lamps (pole + arm + head, tag 6, with a `Light`) every ~30 m along the outer sidewalks of roads
        outside junctions, starting at a seeded offset. signals = None, no static actors, no buildings.
"""
from __future__ import annotations

import functools
import logging
import math
from pathlib import Path

import cv2
import numpy as np

from sdg.scenario import ground as g
from sdg.scenario.layout_model import Crosswalk, Lane, Layout, WalkEdge, mark_conflicts
from sdg.scenario.opendrive_geometry import odr_to_carla
from sdg.scenario.opendrive_model import (
    DIRECTED_TYPES,
    GROUND_TYPES,
    MEDIAN_TYPES,
    RAIL_TYPES,
    SIDEWALK_TYPES,
    VEHICLE_TYPES,
    CrosswalkObject,
    LaneKey,
    LaneSection,
    OpenDrive,
    OpenDriveError,
    Road,
    RoadMark,
)
from sdg.scenario.opendrive_reader import load_xodr
from sdg.scenario.polyline import Polyline
from sdg.scene import Light, Prop
from sdg.tags import TAG

__all__ = ["layout_from_xodr", "layout_from_model", "load_xodr", "OpenDriveError"]

log = logging.getLogger(__name__)

GRAVEL = (128, 120, 104)
RAIL = (92, 84, 76)

MARK_COLORS = {"standard": g.LINE_WHITE, "white": g.LINE_WHITE, "yellow": g.LINE_YELLOW, "blue": (40, 80, 200),
               "green": (40, 160, 60), "red": (200, 40, 40), "orange": (230, 130, 30), "violet": (140, 60, 180),
               "black": (20, 20, 20)}
# roadMark type -> lines (pattern names), listed from the +t (left) side to the -t side
MARK_TYPES = {"solid": ["solid"], "broken": ["broken"], "solid solid": ["solid", "solid"],
              "solid broken": ["solid", "broken"], "broken solid": ["broken", "solid"],
              "broken broken": ["broken", "broken"], "botts dots": ["dots"], "custom": ["solid"],
              "grass": [], "curb": [], "edge": [], "none": []}
PATTERNS = {"solid": (0.0, 0.0), "broken": (3.0, 6.0), "dots": (0.15, 1.05)}  # (dash, gap) metres; 0 = solid

# texture materials
M_ASPHALT, M_GRASS, M_CONCRETE, M_PAINT, M_GRAVEL = 1, 2, 3, 4, 5



def _section_s(sec: LaneSection, base: np.ndarray, extra=()) -> np.ndarray:
    m = (base > sec.s) & (base < sec.end)
    return np.unique(np.concatenate([[sec.s, sec.end], base[m], np.asarray(extra, float)]))


def _band(road: Road, s: np.ndarray, t_a: np.ndarray, t_b: np.ndarray) -> np.ndarray:
    """Polygon (CARLA) between lateral offsets t_a(s) and t_b(s)."""
    return np.concatenate([road.carla_xy(s, t_a), road.carla_xy(s[::-1], t_b[::-1])])


def _paint_class(lane_type: str) -> str | None:
    if lane_type in VEHICLE_TYPES:
        return "road"
    if lane_type in SIDEWALK_TYPES:
        return "sidewalk"
    if lane_type in GROUND_TYPES:
        return "ground"
    if lane_type in MEDIAN_TYPES:
        return "median"
    if lane_type in RAIL_TYPES:
        return "rail"
    return None


def _mark_lines(rm: RoadMark) -> list[tuple[float, float, float, float]]:
    """(dash, gap, lateral offset, width) of every painted line of a roadMark (gap 0 = solid)."""
    base_w = rm.width if rm.width and rm.width > 0 else (0.25 if rm.weight == "bold" else 0.12)
    if rm.lines:
        return [(ml.length, ml.space if ml.length > 0 else 0.0, ml.t_offset,
                 ml.width if ml.width and ml.width > 0 else base_w) for ml in rm.lines]
    names = MARK_TYPES.get(rm.type)
    if names is None:
        log.warning("unknown roadMark type %r painted as solid", rm.type)
        names = ["solid"]
    if not names:
        return []
    out = []
    n = len(names)
    for i, nm in enumerate(names):
        dash, gap = PATTERNS[nm]
        off = 0.0 if n == 1 else (0.5 - i) * 2 * base_w  # two lines one width apart, first on the +t side
        out.append((dash, gap, off, base_w))
    return out


def _dash_intervals(a: float, b: float, dash: float, gap: float) -> list[tuple[float, float]]:
    if gap <= 0 or dash <= 0:
        return [(a, b)]
    out, s = [], a
    while s < b - 1e-6:
        e = min(s + dash, b)
        if e - s > 0.05:
            out.append((s, e))
        s += dash + gap
    return out


def _marking_polygons(road: Road, k: int, base_s: np.ndarray) -> list[tuple[np.ndarray, tuple]]:
    sec = road.sections[k]
    out = []
    for lid, lane in sec.lanes.items():
        for j, rm in enumerate(lane.marks):
            a = sec.s + rm.s_offset
            b = sec.s + lane.marks[j + 1].s_offset if j + 1 < len(lane.marks) else sec.end
            a, b = max(a, sec.s), min(b, sec.end)
            if b - a < 0.05:
                continue
            color = MARK_COLORS.get(rm.color, g.LINE_WHITE)
            for dash, gap, off, w in _mark_lines(rm):
                for s0, s1 in _dash_intervals(a, b, dash, gap):
                    m = (base_s > s0) & (base_s < s1)
                    s = np.unique(np.concatenate([[s0, s1], base_s[m]]))
                    t = road.lane_borders(k, s)[lid][1]  # outer border (centre lane: the lane offset line)
                    t = t + off
                    out.append((_band(road, s, t + w / 2, t - w / 2), color))
    return out


def _crosswalk_polygon(road: Road, cw: CrosswalkObject) -> np.ndarray:
    """(N, 2) CARLA outline of a crosswalk object."""
    if cw.corners_st and len(cw.corners_st) >= 3:
        st = np.array(cw.corners_st)
        return road.carla_xy(st[:, 0], st[:, 1])
    x, y, h = road.reference.evaluate(np.array([cw.s]))
    ox, oy = road.reference.point(np.array([cw.s]), np.array([cw.t]))
    hh = float(h[0]) + cw.hdg
    if cw.corners_local and len(cw.corners_local) >= 3:
        uv = np.array(cw.corners_local)
    else:
        L, W = cw.length, cw.width
        uv = np.array([[-L / 2, -W / 2], [L / 2, -W / 2], [L / 2, W / 2], [-L / 2, W / 2]])
    c, s = np.cos(hh), np.sin(hh)
    px = float(ox[0]) + uv[:, 0] * c - uv[:, 1] * s
    py = float(oy[0]) + uv[:, 0] * s + uv[:, 1] * c
    return np.stack(odr_to_carla(px, py), axis=1)


class _Painter(g.GroundPainter):
    def zebra(self, polygon: np.ndarray, across: np.ndarray, origin: np.ndarray, bar: float = 0.5,
              pitch: float = 1.0) -> None:
        """Paint zebra bars inside `polygon`: bands of `bar` metres every `pitch` metres along the unit direction
        `across` (the crossing direction), measured from `origin`."""
        px = self._px(polygon)
        lo = np.maximum(np.floor(px.min(0) / (1 << 4)).astype(int) - 1, 0)
        hi = np.minimum(np.ceil(px.max(0) / (1 << 4)).astype(int) + 2, [self.nx, self.ny])
        if np.any(hi <= lo):
            return
        mask = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), np.uint8)
        cv2.fillPoly(mask, [px - (lo * (1 << 4)).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        iy, ix = np.nonzero(mask)
        wx = self.x0 + (ix + lo[0] + 0.5) * self.res
        wy = self.y0 + (iy + lo[1] + 0.5) * self.res
        q = (wx - origin[0]) * across[0] + (wy - origin[1]) * across[1]
        on = np.mod(q, pitch) < bar
        gy, gx = iy[on] + lo[1], ix[on] + lo[0]
        self.tags[gy, gx] = TAG["road_line"]
        self.albedo[gy, gx] = g.LINE_WHITE
        self.material[gy, gx] = M_PAINT


class _WalkGraph:
    def __init__(self, merge: float = 0.5):
        self.nodes: list[np.ndarray] = []
        self.edges: list[WalkEdge] = []
        self._grid: dict[tuple[int, int], list[int]] = {}
        self.merge = merge

    def node(self, p) -> int:
        p = np.asarray(p, float)
        key = (int(np.floor(p[0] / self.merge)), int(np.floor(p[1] / self.merge)))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for i in self._grid.get((key[0] + dx, key[1] + dy), ()):
                    if np.hypot(*(self.nodes[i] - p)) <= self.merge:
                        return i
        self.nodes.append(p)
        self._grid.setdefault(key, []).append(len(self.nodes) - 1)
        return len(self.nodes) - 1

    def nearest(self, p, radius: float) -> int | None:
        if not self.nodes:
            return None
        d = np.linalg.norm(np.array(self.nodes) - np.asarray(p, float), axis=1)
        i = int(np.argmin(d))
        return i if d[i] <= radius else None

    def chain(self, points: np.ndarray, step: float = 5.0) -> None:
        pl = Polyline(points)
        n = max(1, int(np.ceil(pl.length / step)))
        ids = [self.node(q) for q in pl.point_at(np.linspace(0.0, pl.length, n + 1))]
        have = {(min(e.a, e.b), max(e.a, e.b)) for e in self.edges}
        for a, b in zip(ids[:-1], ids[1:]):
            if a != b and (min(a, b), max(a, b)) not in have:
                self.edges.append(WalkEdge(a, b, "sidewalk"))
                have.add((min(a, b), max(a, b)))


def _wrap(a):
    return (np.asarray(a) + np.pi) % (2 * np.pi) - np.pi


def _lamps(road: Road, k: int, rng, spacing: float = 30.0) -> tuple[list[Prop], list[Light]]:
    """Lamps on the kerb side of the outermost sidewalk on each side of a section, arms over the road."""
    sec = road.sections[k]
    props, lights = [], []
    for ids, sign in ((sec.left_ids, 1.0), (sec.right_ids, -1.0)):
        walks = [i for i in ids if sec.lanes[i].type in SIDEWALK_TYPES]
        if not walks:
            continue
        lid = walks[-1]
        start = sec.s + 6.0 + float(rng.uniform(0.0, spacing / 2))
        s_pos = np.arange(start, sec.end - 6.0, spacing)
        if len(s_pos) == 0:
            continue
        borders = road.lane_borders(k, s_pos)
        inner, outer = borders[lid]
        wide = np.abs(outer - inner) >= 1.2
        for s, ti in zip(s_pos[wide], inner[wide]):
            base = road.carla_xy(np.array([s]), np.array([ti + sign * 0.45]))[0]
            road_pt = road.carla_xy(np.array([s]), np.array([ti - sign * 1.0]))[0]
            toward = (road_pt - base) / max(np.hypot(*(road_pt - base)), 1e-9)
            h = 8.0
            yaw = float(np.degrees(np.arctan2(toward[1], toward[0])))
            props.append(Prop("cylinder", TAG["pole"], (118, 120, 122), (base[0], base[1], h / 2), (0.22, 0.22, h)))
            arm = base + toward * 0.9
            props.append(Prop("box", TAG["pole"], (118, 120, 122), (arm[0], arm[1], h - 0.1), (1.8, 0.12, 0.12), yaw))
            head = base + toward * 1.75
            props.append(Prop("box", TAG["pole"], (70, 72, 74), (head[0], head[1], h - 0.25), (0.7, 0.35, 0.18), yaw))
            lights.append(Light(position=(float(head[0]), float(head[1]), h - 0.4), color=(255, 214, 160),
                                intensity=1.0, kind="street"))
    return props, lights


def _touches(od: OpenDrive) -> list[tuple[LaneKey, str, LaneKey, str]]:
    """Lane-end contacts (lane A at its 'start'/'end' touches lane B at its 'start'/'end') from lane links."""
    out = []
    for road in od.roads.values():
        last = len(road.sections) - 1
        for k in range(last):
            a, b = road.sections[k], road.sections[k + 1]
            for lid, lane in a.lanes.items():
                if lid == 0:
                    continue
                m = lane.successor
                if m is None and lid in b.lanes and b.lanes[lid].predecessor is None:
                    m = lid  # no links given: same id continues
                if m is not None and m in b.lanes:
                    out.append(((road.id, k, lid), "end", (road.id, k + 1, m), "start"))
            for lid, lane in b.lanes.items():
                if lid != 0 and lane.predecessor is not None and lane.predecessor in a.lanes:
                    out.append(((road.id, k, lane.predecessor), "end", (road.id, k + 1, lid), "start"))
        for link, k, end, attr in ((road.successor, last, "end", "successor"), (road.predecessor, 0, "start",
                                                                               "predecessor")):
            if link is None or link.element_type != "road" or link.element_id not in od.roads:
                continue
            other = od.roads[link.element_id]
            cp = link.contact_point or "start"
            ko = 0 if cp == "start" else len(other.sections) - 1
            for lid, lane in road.sections[k].lanes.items():
                m = getattr(lane, attr)
                if lid != 0 and m is not None and m in other.sections[ko].lanes:
                    out.append(((road.id, k, lid), end, (other.id, ko, m), cp))
    for j in od.junctions.values():
        for c in j.connections:
            inc, con = od.roads.get(c.incoming_road), od.roads.get(c.connecting_road)
            if inc is None or con is None:
                log.warning("%s: junction %s connection %s names a missing road", od.path, j.id, c.id)
                continue
            if inc.successor is not None and inc.successor.element_type == "junction" and \
                    inc.successor.element_id == j.id:
                ki, end_i = len(inc.sections) - 1, "end"
            elif inc.predecessor is not None and inc.predecessor.element_type == "junction" and \
                    inc.predecessor.element_id == j.id:
                ki, end_i = 0, "start"
            else:
                continue
            kc = 0 if c.contact_point == "start" else len(con.sections) - 1
            for a, b in c.lane_links:
                if a in inc.sections[ki].lanes and b in con.sections[kc].lanes:
                    out.append(((inc.id, ki, a), end_i, (con.id, kc, b), c.contact_point))
    return out


def layout_from_model(od: OpenDrive, seed: int = 0, resolution: float = 0.1, margin: float = 10.0,
                 max_cells: int = 16_000_000) -> Layout:
    """The Layout of a parsed OpenDRIVE model (see the module docstring). `resolution` m/cell of the ground raster
    is coarsened (with a warning) so the raster has at most `max_cells` cells."""
    rng = np.random.default_rng([int(seed), 7207])
    strips: dict[str, list[np.ndarray]] = {c: [] for c in ("ground", "median", "rail", "sidewalk", "road")}
    marks: list[tuple[np.ndarray, tuple]] = []
    centres: dict[LaneKey, tuple[np.ndarray, float, float]] = {}  # key -> (CARLA pts in driving order, width, speed)
    walk = _WalkGraph()
    props: list[Prop] = []
    lights: list[Light] = []
    cw_items: list[tuple[Road, np.ndarray]] = []
    implicit: set[LaneKey] = set()  # lanes without any speed record (junction connectors inherit theirs)

    for road in od.roads.values():
        base = road.reference.sample_s()
        extra = [c.s0 for c in road.lane_offsets]
        for k, sec in enumerate(road.sections):
            if sec.end - sec.s < 1e-6:
                continue
            ex = extra + [sec.s + w.s0 for l in sec.lanes.values() for w in l.widths] + [
                sec.s + m.s_offset for l in sec.lanes.values() for m in l.marks]
            ex = [e for e in ex if sec.s < e < sec.end]
            s = _section_s(sec, base, ex)
            borders = road.lane_borders(k, s)
            for lid, lane in sec.lanes.items():
                if lid == 0:
                    continue
                inner, outer = borders[lid]
                w = np.abs(outer - inner)
                if w.max() < 1e-3:
                    continue
                cls = _paint_class(lane.type)
                if cls is not None:
                    strips[cls].append(_band(road, s, inner, outer))
                mid = road.carla_xy(s, 0.5 * (inner + outer))
                fwd = road.forward(lid)
                pts = mid if fwd else mid[::-1]
                if lane.type in DIRECTED_TYPES and w.max() >= 0.5:
                    speed = road.speed_at(sec.s if fwd else sec.end, lane, sec)
                    if not (lane.speeds or road.speeds):
                        implicit.add((road.id, k, lid))
                    centres[(road.id, k, lid)] = (pts, float(np.median(w)), float(speed))
                if lane.type in SIDEWALK_TYPES and w.max() >= 0.5:
                    walk.chain(mid)
            marks += _marking_polygons(road, k, base)
            if not road.in_junction:
                p, li = _lamps(road, k, rng)
                props += p
                lights += li
        for cw in road.crosswalks:
            cw_items.append((road, cw))

    every = [p for c in strips.values() for p in c] + [p for p, _ in marks]
    if not every:
        raise OpenDriveError(f"{od.path}: no lane has a width > 0; nothing to paint")
    allp = np.concatenate(every)
    x0, y0 = allp.min(0) - margin
    x1, y1 = allp.max(0) + margin
    cells = (x1 - x0) * (y1 - y0) / resolution**2
    if cells > max_cells:
        new = resolution * math.sqrt(cells / max_cells)
        log.warning("%s: %.0f x %.0f m at %.2f m/cell exceeds %d cells; using %.3f m/cell", od.path, x1 - x0,
                    y1 - y0, resolution, max_cells, new)
        resolution = new
    gp = _Painter(x0, y0, x1, y1, resolution, tag=TAG["terrain"], color=g.GRASS)
    gp.material[:] = M_GRASS
    gp.fill(strips["ground"], TAG["ground"], GRAVEL, M_GRAVEL)
    gp.fill(strips["median"], TAG["terrain"], g.GRASS, M_GRASS)
    gp.fill(strips["rail"], TAG["rail_track"], RAIL, M_GRAVEL)
    gp.fill(strips["sidewalk"], TAG["sidewalk"], g.CONCRETE, M_CONCRETE)
    gp.fill(strips["road"], TAG["road"], g.ASPHALT, M_ASPHALT)
    road_mask = (gp.tags == TAG["road"]).astype(np.uint8)
    kk = max(1, int(round(0.25 / resolution)))
    near = cv2.dilate(road_mask, np.ones((2 * kk + 1, 2 * kk + 1), np.uint8)) > 0
    gp.albedo[near & (gp.tags == TAG["sidewalk"])] = g.KERB
    for poly, color in marks:
        gp.fill(poly, TAG["road_line"], color, M_PAINT)

    # crosswalks: zebra bars across the road, a walk edge from kerb to kerb
    crosswalks: list[Crosswalk] = []
    for road, cw in cw_items:
        poly = _crosswalk_polygon(road, cw)
        _, _, h = road.reference.evaluate(np.array([cw.s]))
        hc = -float(h[0])  # CARLA heading of the road at the crossing
        along = np.array([np.cos(hc), np.sin(hc)])
        across = np.array([-along[1], along[0]])
        ctr = poly.mean(0)
        q = (poly - ctr) @ across
        r_ = (poly - ctr) @ along
        gp.zebra(poly, across, ctr + across * q.min() + across * 0.25)
        a_pt, b_pt = ctr + across * q.min(), ctr + across * q.max()
        rect = np.array([ctr + across * q.min() + along * r_.min(), ctr + across * q.min() + along * r_.max(),
                         ctr + across * q.max() + along * r_.max(), ctr + across * q.max() + along * r_.min()])
        path = Polyline(np.array([a_pt, b_pt]))
        crosswalks.append(Crosswalk(id=len(crosswalks), arm=road.id, path=path, width=float(r_.max() - r_.min()),
                                    signalised=False, polygon=rect, kerbs=(0.0, path.length)))
    gp.texture(seed=int(rng.integers(1 << 31)), amplitude={M_ASPHALT: 0.07, M_GRASS: 0.2, M_CONCRETE: 0.05,
                                                          M_PAINT: 0.03, M_GRAVEL: 0.12})
    ground = gp.ground_map()
    extent = (gp.x0, gp.y0, gp.x0 + gp.nx * gp.res, gp.y0 + gp.ny * gp.res)
    del gp

    # lanes and their graph
    lanes: dict[int, Lane] = {}
    id_of: dict[LaneKey, int] = {}
    for key, (pts, width, speed) in centres.items():
        try:
            path = Polyline(pts)
        except ValueError:
            continue
        road = od.roads[key[0]]
        sec = road.sections[key[1]]
        same_side = [i for i in (sec.left_ids if key[2] > 0 else sec.right_ids)
                     if sec.lanes[i].type in DIRECTED_TYPES and abs(i) < abs(key[2])]
        lane = Lane(id=len(lanes), path=path, width=width, speed_limit=speed,
                    kind="junction" if road.in_junction else "exit", arm=road.id, index=len(same_side))
        lanes[lane.id] = lane
        id_of[key] = lane.id
    for a, end_a, b, end_b in _touches(od):
        if a not in id_of or b not in id_of:
            continue
        ra, rb = od.roads[a[0]], od.roads[b[0]]
        tail_a = "end" if ra.forward(a[2]) else "start"  # where traffic leaves lane a
        tail_b = "end" if rb.forward(b[2]) else "start"
        if end_a == tail_a and end_b != tail_b:
            src, dst = id_of[a], id_of[b]
        elif end_b == tail_b and end_a != tail_a:
            src, dst = id_of[b], id_of[a]
        else:
            continue
        if dst not in lanes[src].successors:
            lanes[src].successors.append(dst)
            lanes[dst].predecessors.append(src)
    for key, lid in id_of.items():
        road = od.roads[key[0]]
        lane = lanes[lid]
        if road.in_junction:
            if key in implicit and lane.predecessors:
                lane.speed_limit = min(lanes[p].speed_limit for p in lane.predecessors)
            h0 = float(lane.path.heading_at(0.0))
            h1 = float(lane.path.heading_at(lane.path.length))
            dh = float(_wrap(h1 - h0))
            lane.movement = "straight" if abs(dh) < np.radians(30) else ("left" if dh < 0 else "right")
            lane.priority = {"straight": 2, "right": 1, "left": 0}[lane.movement]
            continue
        fwd = road.forward(key[2])
        at_end = key[1] == (len(road.sections) - 1 if fwd else 0)
        link = road.successor if fwd else road.predecessor
        if at_end and link is not None and link.element_type == "junction":
            lane.kind = "entry"
    by_junction: dict[str, list[Lane]] = {}
    for key, lid in id_of.items():
        road = od.roads[key[0]]
        if road.in_junction:
            by_junction.setdefault(road.junction, []).append(lanes[lid])
    for js in by_junction.values():
        mark_conflicts(js)

    # walk graph: sidewalks + crosswalk edges joined to the nearest sidewalk node
    for c in crosswalks:
        ends = []
        for p in (c.path.start, c.path.end):
            near_i = walk.nearest(p, 4.0)
            i = walk.node(p)
            if near_i is not None and near_i != i:
                walk.edges.append(WalkEdge(near_i, i, "sidewalk"))
            ends.append(i)
        walk.edges.append(WalkEdge(ends[0], ends[1], "crosswalk", c.id))
    walk_nodes = np.array(walk.nodes) if walk.nodes else np.zeros((0, 2))
    deg = np.zeros(len(walk_nodes), int)
    for e in walk.edges:
        deg[e.a] += 1
        deg[e.b] += 1
    dead = {int(i) for i in np.flatnonzero(deg == 1)}

    info = {
        "source": str(od.path),
        "roads": len(od.roads),
        "junctions": len(od.junctions),
        "resolution": float(resolution),
        "lane_keys": {lid: key for key, lid in id_of.items()},
        "header": {"name": od.header.name, "rev": od.header.rev, "georeference": od.header.georeference,
                   "offset": od.header.offset},
        "frame": "CARLA: x = x_odr, y = -y_odr, heading = -hdg_odr",
    }
    name = od.name
    return Layout(name=f"xodr:{name}", map_name=name, seed=int(seed), ground=ground, props=props, lights=lights,
                  lanes=lanes, crosswalks=crosswalks, walk_nodes=walk_nodes, walk_edges=walk.edges,
                  static_specs=[], signals=None, extent=tuple(float(v) for v in extent), walk_dead_ends=dead,
                  info=info)


@functools.lru_cache(maxsize=4)
def _layout_cached(path: str, mtime_ns: int, size: int, seed: int, resolution: float) -> Layout:
    return layout_from_model(load_xodr(path), seed=seed, resolution=resolution)


def layout_from_xodr(path, seed: int = 0, resolution: float = 0.1) -> Layout:
    """The Layout of an OpenDRIVE file (see the module docstring), deterministic in `seed` (lamp placement, ground
    texture). `resolution` is the ground raster's m/cell (coarsened for maps larger than ~16 M cells, e.g. 400 x
    400 m at 0.1 m). Cached per (file, modification time, size, seed, resolution): treat the result as read-only."""
    p = Path(path)
    try:
        st = p.resolve().stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"{p}: OpenDRIVE file not found") from None
    return _layout_cached(str(p.resolve()), st.st_mtime_ns, st.st_size, int(seed), float(resolution))
