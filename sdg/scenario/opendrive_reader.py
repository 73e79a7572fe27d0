"""OpenDRIVE (.xodr, revisions 1.4-1.6) XML reader: `load_xodr(path) -> OpenDrive`, the plain records of
sdg.scenario.opendrive_model (ODR frame).

What is read: header (name, revMajor/revMinor, geoReference text, offset; neither is applied: CARLA keeps the raw
inertial coordinates), roads (id, length, junction, rule RHT/LHT, link predecessor/successor, type/speed, planView
line/arc/spiral/poly3/paramPoly3, lanes: laneOffset, laneSections with left/center/right lanes, lane type, width
records, roadMark (type incl. double lines and explicit <type><line> patterns, colour, width), lane link
predecessor/successor, lane speed), objects of type "crosswalk" (outline cornerRoad/cornerLocal, or length x width),
and junctions (connections with laneLinks; linkedRoad of 1.7 direct junctions). Ignored: elevation/superelevation/
lateral profiles (z = 0), lane <border> records (an error says so), signals, other objects.

Malformed input raises OpenDriveError naming the file, the element (road id, geometry index, lane section, lane id)
and its line number.
"""
from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NoReturn
from xml.parsers import expat

import numpy as np

from sdg.scenario.opendrive_geometry import Arc, Cubic, Geometry, ParamPoly3, Poly3, ReferenceLine, Spiral
from sdg.scenario.opendrive_model import (
    KNOWN_LANE_TYPES,
    Connection,
    CrosswalkObject,
    Header,
    Junction,
    LaneDef,
    LaneSection,
    MarkLine,
    OpenDrive,
    OpenDriveError,
    Road,
    RoadLink,
    RoadMark,
)

log = logging.getLogger(__name__)


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
