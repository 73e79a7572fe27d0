"""The OpenDRIVE model: plain typed records of a parsed .xodr file (header, roads with their reference line,
lane sections, lanes, road marks and crosswalk objects, junctions with their connections), as produced by
sdg.scenario.opendrive_reader.load_xodr and consumed by the layout builder sdg.scenario.opendrive.

Frame: the OpenDRIVE inertial frame (x east, y north, counter-clockwise headings, t positive to the left); the
curve maths are in sdg.scenario.opendrive_geometry. `Road.carla_xy` gives CARLA-frame points (x, -y).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sdg.scenario.opendrive_geometry import Cubic, ReferenceLine, eval_piecewise, odr_to_carla

DEFAULT_SPEED = 50.0 / 3.6  # m/s when neither the lane nor the road gives a speed

# lane type (lower case) -> what it is
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

LaneKey = tuple[str, int, int]  # (road id, section index, OpenDRIVE lane id)


class OpenDriveError(ValueError):
    """A .xodr file that cannot be used: the message names the file, the element (road id, geometry index,
    lane section, lane id, line number) and what is wrong."""


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
