"""OpenDRIVE (.xodr, revisions 1.4-1.6) reader and the road `Layout` built from it for the CPU simulator.

    load_xodr(path) -> OpenDrive                   the parsed model (ODR frame, see sdg.scenario.opendrive_geometry)
    layout_from_xodr(path, seed=0) -> Layout       ground raster, lanes, walk graph, crosswalks, lamps (CARLA frame)
    layout_from_model(od, seed=0) -> Layout        the same from a parsed model (not cached)

What is read: header (name, revMajor/revMinor, geoReference text, offset; neither is applied: CARLA keeps the raw
inertial coordinates), roads (id, length, junction, rule RHT/LHT, link predecessor/successor, type/speed, planView
line/arc/spiral/poly3/paramPoly3, lanes: laneOffset, laneSections with left/center/right lanes, lane type, width
records, roadMark (type incl. double lines and explicit <type><line> patterns, colour, width), lane link
predecessor/successor, lane speed), objects of type "crosswalk" (outline cornerRoad/cornerLocal, or length x width),
and junctions (connections with laneLinks; linkedRoad of 1.7 direct junctions). Ignored: elevation/superelevation/lateral profiles (z = 0), lane
<border> records (an error says so), signals, other objects.

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
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from xml.parsers import expat

import cv2
import numpy as np

from sdg.scene import Light, Prop
from sdg.scenario import ground as g
from sdg.scenario.layout import Crosswalk, Lane, Layout, WalkEdge
from sdg.scenario.opendrive_geometry import (Arc, Cubic, Geometry, ParamPoly3, Poly3, ReferenceLine, Spiral,
                                             eval_piecewise, odr_to_carla)
from sdg.scenario.polyline import Polyline
from sdg.tags import TAG

log = logging.getLogger(__name__)

DEFAULT_SPEED = 50.0 / 3.6  # m/s when neither the lane nor the road gives a speed
GRAVEL = (128, 120, 104)
RAIL = (92, 84, 76)

# lane type -> paint class
VEHICLE_TYPES = {"driving", "entry", "exit", "onramp", "offramp", "connectingramp", "bidirectional", "parking",
                 "biking", "bus", "taxi", "hov", "sliplane", "stop", "roadworks", "mwydriving"}
DIRECTED_TYPES = {"driving", "entry", "exit", "onramp", "offramp", "connectingramp", "bus", "taxi", "hov",
                  "sliplane"}  # lanes that become Layout lanes (have one driving direction)
SIDEWALK_TYPES = {"sidewalk", "curb", "walking"}
GROUND_TYPES = {"shoulder", "border", "restricted"}
MEDIAN_TYPES = {"median"}
RAIL_TYPES = {"rail", "tram"}
KNOWN_LANE_TYPES = VEHICLE_TYPES | SIDEWALK_TYPES | GROUND_TYPES | MEDIAN_TYPES | RAIL_TYPES | {
    "none", "special1", "special2", "special3"}

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


class OpenDriveError(ValueError):
    """A .xodr file that cannot be used: the message names the file, the element (road id, geometry index,
    lane section, lane id, line number) and what is wrong."""


# ================================================================================================== the model
@dataclass
class Header:
    name: str
    rev: tuple[int, int]
    georeference: str | None = None
    offset: tuple[float, float, float, float] | None = None  # x, y, z, hdg (stored, not applied)
    bounds: dict = field(default_factory=dict)  # north/south/east/west when given


@dataclass(frozen=True)
class RoadLink:
    element_type: str  # "road" | "junction"
    element_id: str
    contact_point: str | None  # "start" | "end" (roads)


@dataclass
class MarkLine:
    """One line of a roadMark pattern: `length` painted, `space` gap (0 = solid), at lateral `t_offset`."""

    length: float
    space: float
    t_offset: float = 0.0
    s_offset: float = 0.0
    width: float | None = None


@dataclass
class RoadMark:
    s_offset: float  # from the lane section start, metres
    type: str
    color: str = "standard"
    width: float | None = None  # metres
    weight: str = "standard"
    lines: list[MarkLine] = field(default_factory=list)  # explicit <type><line> pattern, if given


@dataclass
class LaneDef:
    id: int
    type: str  # lower case
    widths: list[Cubic] = field(default_factory=list)  # s0 = sOffset from the lane section start
    marks: list[RoadMark] = field(default_factory=list)
    predecessor: int | None = None
    successor: int | None = None
    speeds: list[tuple[float, float]] = field(default_factory=list)  # (sOffset, m/s)
    line: int = 0


@dataclass
class LaneSection:
    s: float
    end: float
    lanes: dict[int, LaneDef]  # includes the centre lane 0 when present
    line: int = 0

    @property
    def left_ids(self) -> list[int]:
        return sorted(i for i in self.lanes if i > 0)

    @property
    def right_ids(self) -> list[int]:
        return sorted((i for i in self.lanes if i < 0), reverse=True)


@dataclass
class CrosswalkObject:
    id: str
    s: float
    corners_st: list[tuple[float, float]] | None  # cornerRoad (s, t)
    corners_local: list[tuple[float, float]] | None  # cornerLocal (u, v) about (s, t) with heading hdg
    t: float = 0.0
    hdg: float = 0.0  # relative to the road heading
    length: float = 0.0
    width: float = 0.0


@dataclass
class Road:
    id: str
    name: str
    length: float
    junction: str
    rule: str  # "RHT" | "LHT"
    reference: ReferenceLine
    sections: list[LaneSection]
    lane_offsets: list[Cubic] = field(default_factory=list)
    predecessor: RoadLink | None = None
    successor: RoadLink | None = None
    speeds: list[tuple[float, float]] = field(default_factory=list)  # (s, m/s) from <type><speed>
    crosswalks: list[CrosswalkObject] = field(default_factory=list)
    line: int = 0

    @property
    def in_junction(self) -> bool:
        return self.junction not in ("-1", "")

    def lane_offset(self, s) -> np.ndarray:
        return eval_piecewise(self.lane_offsets, s)

    def section_index(self, s: float) -> int:
        starts = [sec.s for sec in self.sections]
        return int(np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(self.sections) - 1))

    def lane_width(self, section: int, lane_id: int, s) -> np.ndarray:
        sec = self.sections[section]
        lane = sec.lanes[lane_id]
        return np.maximum(eval_piecewise(lane.widths, np.asarray(s, float) - sec.s), 0.0)

    def lane_borders(self, section: int, s) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Lateral offsets t (ODR, left positive, metres) of the inner and outer border of every lane of a section
        at road arc lengths s; lane 0 (the centre lane) maps to (t0, t0) with t0 the laneOffset."""
        s = np.asarray(s, float)
        sec = self.sections[section]
        t0 = self.lane_offset(s)
        out = {0: (t0, t0)}
        for ids, sign in ((sec.left_ids, 1.0), (sec.right_ids, -1.0)):
            cum = t0
            for i in ids:
                w = self.lane_width(section, i, s)
                inner, cum = cum, cum + sign * w
                out[i] = (inner, cum)
        return out

    def xy(self, s, t) -> np.ndarray:
        """(N, 2) ODR-frame points at road coordinates (s, t)."""
        x, y = self.reference.point(s, t)
        return np.stack([np.ravel(x), np.ravel(y)], axis=1)

    def carla_xy(self, s, t) -> np.ndarray:
        """(N, 2) CARLA-frame points (x, -y) at road coordinates (s, t)."""
        p = self.xy(s, t)
        return np.stack(odr_to_carla(p[:, 0], p[:, 1]), axis=1)

    def forward(self, lane_id: int) -> bool:
        """Does traffic on this lane drive along increasing s? (RHT: right lanes; LHT: left lanes.)"""
        return (lane_id < 0) == (self.rule != "LHT")

    def speed_at(self, s: float, lane: LaneDef | None = None, section: LaneSection | None = None) -> float:
        if lane is not None and lane.speeds and section is not None:
            ok = [v for so, v in lane.speeds if so <= s - section.s + 1e-9]
            if ok:
                return ok[-1]
            return lane.speeds[0][1]
        ok = [v for s0, v in self.speeds if s0 <= s + 1e-9]
        return ok[-1] if ok else DEFAULT_SPEED


@dataclass
class Connection:
    id: str
    incoming_road: str
    connecting_road: str  # the connecting road, or the linkedRoad of a direct junction (OpenDRIVE 1.7)
    contact_point: str  # "start" | "end" of the connecting road
    lane_links: list[tuple[int, int]] = field(default_factory=list)  # (incoming lane, connecting lane)


@dataclass
class Junction:
    id: str
    name: str
    connections: list[Connection] = field(default_factory=list)


@dataclass
class OpenDrive:
    path: Path
    header: Header
    roads: dict[str, Road]
    junctions: dict[str, Junction]

    @property
    def name(self) -> str:
        return self.header.name or self.path.stem


# ================================================================================================== parsing
class _Reader:
    """XML with line numbers (expat) and attribute accessors whose errors name file, element and line."""

    def __init__(self, path: Path):
        self.path = path
        self.lines: dict[int, int] = {}
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: OpenDRIVE file not found") from None
        builder = ET.TreeBuilder()
        p = expat.ParserCreate()
        p.buffer_text = True

        def start(tag, attrs):
            el = builder.start(tag, attrs)
            self.lines[id(el)] = p.CurrentLineNumber

        p.StartElementHandler = start
        p.EndElementHandler = builder.end
        p.CharacterDataHandler = builder.data
        try:
            p.Parse(data, True)
        except expat.ExpatError as e:
            raise OpenDriveError(f"{path}: not valid XML: {expat.ErrorString(e.code)} at line {e.lineno}, "
                                 f"column {e.offset + 1}; fix the file or export it again") from None
        self.root = builder.close()
        self._keep = self.root  # elements must stay alive for id() keys to stay unique

    def line(self, el) -> int:
        return self.lines.get(id(el), 0)

    def fail(self, what: str, el, msg: str) -> NoReturn:
        raise OpenDriveError(f"{self.path}: {what} (line {self.line(el)}): {msg}")

    def num(self, el, name: str, what: str, default=None, required: bool = True) -> float:
        raw = el.get(name)
        if raw is None:
            if default is not None or not required:
                return default
            self.fail(what, el, f"attribute '{name}' is missing")
        try:
            v = float(raw)
        except ValueError:
            self.fail(what, el, f"attribute '{name}' is not a number: {raw!r}")
        if not math.isfinite(v):
            self.fail(what, el, f"attribute '{name}' is not finite: {raw!r}")
        return v

    def int_(self, el, name: str, what: str, default=None) -> int:
        v = self.num(el, name, what, default=default, required=default is None)
        if v is None:
            return None
        if v != int(v):
            self.fail(what, el, f"attribute '{name}' must be an integer, got {el.get(name)!r}")
        return int(v)


def _speed(value: str | None, unit: str | None) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except ValueError:  # "no limit", "undefined"
        return None
    u = (unit or "m/s").strip().lower()
    return v / 3.6 if u == "km/h" else v * 0.44704 if u == "mph" else v


def _cubic(r: _Reader, el, s_attr: str, what: str) -> Cubic:
    return Cubic(r.num(el, s_attr, what, default=0.0), r.num(el, "a", what, default=0.0),
                 r.num(el, "b", what, default=0.0), r.num(el, "c", what, default=0.0),
                 r.num(el, "d", what, default=0.0))


def _geometry(r: _Reader, el, what: str) -> Geometry:
    s, x, y = r.num(el, "s", what), r.num(el, "x", what), r.num(el, "y", what)
    hdg, length = r.num(el, "hdg", what), r.num(el, "length", what)
    if length <= 0:
        r.fail(what, el, f"length must be > 0, got {length}")
    kids = [k for k in el if k.tag != "userData"]
    if not kids:
        r.fail(what, el, "no shape element; expected one of line, arc, spiral, poly3, paramPoly3")
    k = kids[0]
    base = dict(s=s, x=x, y=y, hdg=hdg, length=length)
    if k.tag == "line":
        return Geometry(**base)
    if k.tag == "arc":
        return Arc(**base, curvature=r.num(k, "curvature", what + " <arc>"))
    if k.tag == "spiral":
        return Spiral(**base, curv_start=r.num(k, "curvStart", what + " <spiral>"),
                      curv_end=r.num(k, "curvEnd", what + " <spiral>"))
    if k.tag == "poly3":
        w = what + " <poly3>"
        return Poly3(**base, a=r.num(k, "a", w), b=r.num(k, "b", w), c=r.num(k, "c", w), d=r.num(k, "d", w))
    if k.tag == "paramPoly3":
        w = what + " <paramPoly3>"
        pr = k.get("pRange", "normalized")
        if pr not in ("arcLength", "normalized"):
            r.fail(w, k, f"pRange must be 'arcLength' or 'normalized', got {pr!r}")
        vals = {n: r.num(k, n, w, default=0.0) for n in ("aU", "bU", "cU", "dU", "aV", "bV", "cV", "dV")}
        return ParamPoly3(**base, au=vals["aU"], bu=vals["bU"], cu=vals["cU"], du=vals["dU"], av=vals["aV"],
                          bv=vals["bV"], cv=vals["cV"], dv=vals["dV"], p_range=pr)
    r.fail(what, k, f"unknown geometry type <{k.tag}>; expected line, arc, spiral, poly3 or paramPoly3")


def _link(r: _Reader, el, what: str) -> RoadLink | None:
    if el is None:
        return None
    et, eid = el.get("elementType", "road"), el.get("elementId")
    if eid is None:
        r.fail(what, el, "attribute 'elementId' is missing")
    cp = el.get("contactPoint")
    if cp is not None and cp not in ("start", "end"):
        r.fail(what, el, f"contactPoint must be 'start' or 'end', got {cp!r}")
    return RoadLink(et, eid, cp)


def _road_mark(r: _Reader, el, what: str) -> RoadMark:
    typ = (el.get("type") or "none").strip().lower()
    width = r.num(el, "width", what, required=False)
    rm = RoadMark(s_offset=r.num(el, "sOffset", what, default=0.0), type=typ,
                  color=(el.get("color") or "standard").strip().lower(), width=width,
                  weight=(el.get("weight") or "standard").strip().lower())
    tdef = el.find("type")
    if tdef is not None:
        for ln in tdef.findall("line"):
            lw = what + " <type><line>"
            rm.lines.append(MarkLine(length=r.num(ln, "length", lw, default=0.0),
                                     space=r.num(ln, "space", lw, default=0.0),
                                     t_offset=r.num(ln, "tOffset", lw, default=0.0),
                                     s_offset=r.num(ln, "sOffset", lw, default=0.0),
                                     width=r.num(ln, "width", lw, required=False)))
    return rm


def _lane(r: _Reader, el, what: str) -> LaneDef:
    lid = r.int_(el, "id", what)
    what = f"{what} lane {lid}"
    lane = LaneDef(id=lid, type=(el.get("type") or "none").strip().lower(), line=r.line(el))
    for w in el.findall("width"):
        lane.widths.append(_cubic(r, w, "sOffset", what + " <width>"))
    lane.widths.sort(key=lambda c: c.s0)
    if lid != 0 and not lane.widths:
        if el.find("border") is not None:
            r.fail(what, el, "<border> lane records are not supported; describe the lane with <width> records")
        r.fail(what, el, "has no <width> record; every non-centre lane needs at least one")
    link = el.find("link")
    if link is not None:
        for tag in ("predecessor", "successor"):
            e = link.find(tag)
            if e is not None:
                setattr(lane, tag, r.int_(e, "id", f"{what} <{tag}>"))
    for rm in el.findall("roadMark"):
        lane.marks.append(_road_mark(r, rm, what + " <roadMark>"))
    lane.marks.sort(key=lambda m: m.s_offset)
    for sp in el.findall("speed"):
        v = _speed(sp.get("max"), sp.get("unit"))
        if v is not None:
            lane.speeds.append((r.num(sp, "sOffset", what + " <speed>", default=0.0), v))
    lane.speeds.sort()
    return lane


def _check_widths(r: _Reader, road_id: str, k: int, sec: LaneSection) -> None:
    """Widths must not go negative anywhere inside their record's validity range."""
    span = sec.end - sec.s
    for lane in sec.lanes.values():
        for j, w in enumerate(lane.widths):
            a = w.s0
            b = lane.widths[j + 1].s0 if j + 1 < len(lane.widths) else span
            if b < a:
                continue
            ds = np.linspace(a, max(b, a), 65)
            vals = w(ds)
            i = int(np.argmin(vals))
            if vals[i] < -1e-3:
                raise OpenDriveError(
                    f"{r.path}: road {road_id} laneSection #{k} (s={sec.s:g}) lane {lane.id} <width> #{j} "
                    f"(line {lane.line}): width {vals[i]:.3f} m at ds={ds[i]:.3f} (s={sec.s + ds[i]:.3f}); "
                    "lane widths must be >= 0")


def _crosswalks(r: _Reader, road_el, rid: str) -> list[CrosswalkObject]:
    out = []
    objs = road_el.find("objects")
    if objs is None:
        return out
    for o in objs.findall("object"):
        if (o.get("type") or "").lower() != "crosswalk":
            continue
        what = f"road {rid} object {o.get('id', '?')}"
        cw = CrosswalkObject(id=o.get("id", ""), s=r.num(o, "s", what), corners_st=None, corners_local=None,
                             t=r.num(o, "t", what, default=0.0), hdg=r.num(o, "hdg", what, default=0.0),
                             length=r.num(o, "length", what, default=0.0),
                             width=r.num(o, "width", what, default=0.0))
        outline = o.find("outline")
        if outline is None:
            outlines = o.find("outlines")
            outline = outlines.find("outline") if outlines is not None else None
        if outline is not None:
            road_c = [(r.num(c, "s", what), r.num(c, "t", what)) for c in outline.findall("cornerRoad")]
            local_c = [(r.num(c, "u", what), r.num(c, "v", what)) for c in outline.findall("cornerLocal")]
            cw.corners_st = road_c or None
            cw.corners_local = local_c or None
        if not (cw.corners_st and len(cw.corners_st) >= 3) and not (cw.corners_local and len(cw.corners_local) >= 3):
            if cw.length <= 0 or cw.width <= 0:
                log.warning("%s: %s: crosswalk without an outline or length/width; skipped", r.path, what)
                continue
        out.append(cw)
    return out


def _road(r: _Reader, el) -> Road:
    rid = el.get("id")
    if rid is None:
        r.fail("road", el, "attribute 'id' is missing")
    what = f"road {rid}"
    length = r.num(el, "length", what)
    pv = el.find("planView")
    if pv is None:
        r.fail(what, el, "no <planView>; every road needs a reference line")
    geos = []
    for i, ge in enumerate(pv.findall("geometry")):
        geos.append(_geometry(r, ge, f"{what} geometry #{i}"))
    if not geos:
        r.fail(what, pv, "<planView> has no <geometry>")
    ref = ReferenceLine(geos)
    if abs(ref.length - length) > 0.01:
        log.warning("%s: %s: length %.3f differs from its geometries' %.3f m; using the geometries", r.path, what,
                    length, ref.length)
    length = ref.length
    rule = (el.get("rule") or "RHT").upper()
    if rule not in ("RHT", "LHT"):
        r.fail(what, el, f"rule must be RHT or LHT, got {el.get('rule')!r}")
    link = el.find("link")
    road = Road(id=rid, name=el.get("name", ""), length=length, junction=el.get("junction", "-1").strip(), rule=rule,
                reference=ref, sections=[], line=r.line(el),
                predecessor=_link(r, link.find("predecessor") if link is not None else None, what + " <link>"),
                successor=_link(r, link.find("successor") if link is not None else None, what + " <link>"))
    for t in el.findall("type"):
        sp = t.find("speed")
        if sp is not None:
            v = _speed(sp.get("max"), sp.get("unit"))
            if v is not None:
                road.speeds.append((r.num(t, "s", what + " <type>", default=0.0), v))
    road.speeds.sort()
    lanes_el = el.find("lanes")
    if lanes_el is None:
        r.fail(what, el, "no <lanes>")
    for lo in lanes_el.findall("laneOffset"):
        road.lane_offsets.append(_cubic(r, lo, "s", what + " <laneOffset>"))
    road.lane_offsets.sort(key=lambda c: c.s0)
    sec_els = lanes_el.findall("laneSection")
    if not sec_els:
        r.fail(what, lanes_el, "<lanes> has no <laneSection>")
    for k, se in enumerate(sec_els):
        sw = f"{what} laneSection #{k}"
        s0 = r.num(se, "s", sw, default=0.0)
        lanes: dict[int, LaneDef] = {}
        for side in ("left", "center", "right"):
            side_el = se.find(side)
            if side_el is None:
                continue
            for le in side_el.findall("lane"):
                lane = _lane(r, le, sw)
                ok = lane.id > 0 if side == "left" else lane.id < 0 if side == "right" else lane.id == 0
                if not ok:
                    r.fail(f"{sw} lane {lane.id}", le, f"lane id {lane.id} is not allowed in <{side}> "
                                                       "(left > 0, center = 0, right < 0)")
                if lane.id in lanes:
                    r.fail(f"{sw} lane {lane.id}", le, "duplicate lane id")
                if lane.type not in KNOWN_LANE_TYPES:
                    log.warning("%s: %s lane %d: unknown lane type %r, not painted", r.path, sw, lane.id, lane.type)
                lanes[lane.id] = lane
        for ids, sign, side in ((sorted(i for i in lanes if i > 0), 1, "left"),
                                (sorted((-i for i in lanes if i < 0)), -1, "right")):
            if ids != list(range(1, len(ids) + 1)):
                r.fail(sw, se, f"<{side}> lane ids {[sign * i for i in ids]} are not consecutive from the centre "
                               f"(expected {[sign * i for i in range(1, len(ids) + 1)]})")
        road.sections.append(LaneSection(s=s0, end=length, lanes=lanes, line=r.line(se)))
    for a, b in zip(road.sections[:-1], road.sections[1:]):
        if b.s < a.s - 1e-9:
            r.fail(what, lanes_el, f"laneSections are not in increasing s ({a.s:g} then {b.s:g})")
        a.end = b.s
    for k, sec in enumerate(road.sections):
        _check_widths(r, rid, k, sec)
    road.crosswalks = _crosswalks(r, el, rid)
    return road


def _junction(r: _Reader, el) -> Junction:
    jid = el.get("id")
    if jid is None:
        r.fail("junction", el, "attribute 'id' is missing")
    j = Junction(id=jid, name=el.get("name", ""))
    for c in el.findall("connection"):
        what = f"junction {jid} connection {c.get('id', '?')}"
        inc, con = c.get("incomingRoad"), c.get("connectingRoad") or c.get("linkedRoad")  # linkedRoad: direct
        if inc is None or con is None:
            r.fail(what, c, "needs incomingRoad and connectingRoad (or linkedRoad in a direct junction)")
        cp = c.get("contactPoint", "start")
        if cp not in ("start", "end"):
            r.fail(what, c, f"contactPoint must be 'start' or 'end', got {cp!r}")
        conn = Connection(id=c.get("id", ""), incoming_road=inc, connecting_road=con, contact_point=cp)
        for ll in c.findall("laneLink"):
            conn.lane_links.append((r.int_(ll, "from", what + " <laneLink>"), r.int_(ll, "to", what + " <laneLink>")))
        j.connections.append(conn)
    return j


def load_xodr(path) -> OpenDrive:
    """Parse an OpenDRIVE file into the model (ODR frame). Raises OpenDriveError naming the file, element and
    line for malformed input, FileNotFoundError for a missing file."""
    path = Path(path)
    r = _Reader(path)
    root = r.root
    if root.tag != "OpenDRIVE":
        r.fail(f"root element <{root.tag}>", root, "not an OpenDRIVE file (the root element must be <OpenDRIVE>)")
    he = root.find("header")
    if he is None:
        header = Header(name="", rev=(1, 4))
    else:
        header = Header(name=he.get("name", "") or "",
                        rev=(r.int_(he, "revMajor", "header", default=1), r.int_(he, "revMinor", "header", default=4)))
        gr = he.find("geoReference")
        if gr is not None and (gr.text or "").strip():
            header.georeference = gr.text.strip()
        off = he.find("offset")
        if off is not None:
            header.offset = tuple(r.num(off, k, "header <offset>", default=0.0) for k in ("x", "y", "z", "hdg"))
        header.bounds = {k: float(he.get(k)) for k in ("north", "south", "east", "west")
                         if _is_float(he.get(k))}
    roads: dict[str, Road] = {}
    for re_ in root.findall("road"):
        road = _road(r, re_)
        if road.id in roads:
            r.fail(f"road {road.id}", re_, "duplicate road id")
        roads[road.id] = road
    if not roads:
        r.fail("<OpenDRIVE>", root, "no <road> elements")
    junctions = {}
    for je in root.findall("junction"):
        j = _junction(r, je)
        junctions[j.id] = j
    return OpenDrive(path=path, header=header, roads=roads, junctions=junctions)


def _is_float(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


# ================================================================================================== layout
LaneKey = tuple[str, int, int]  # (road id, section index, OpenDRIVE lane id)


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


def _mark_conflicts(lanes: list[Lane], clearance: float = 3.2) -> None:
    """Junction lanes of one junction whose centre lines come closer than `clearance` conflict, unless they leave
    the same lane."""
    pts = {l.id: l.path.resampled(0.5).points for l in lanes}
    for i, la in enumerate(lanes):
        for lb in lanes[i + 1:]:
            if set(la.predecessors) & set(lb.predecessors):
                continue
            pa, pb = pts[la.id], pts[lb.id]
            if (pa.min(0) - clearance > pb.max(0)).any() or (pb.min(0) - clearance > pa.max(0)).any():
                continue
            if np.linalg.norm(pa[:, None] - pb[None], axis=-1).min() < clearance:
                la.conflicts.add(lb.id)
                lb.conflicts.add(la.id)


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
        _mark_conflicts(js)

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
