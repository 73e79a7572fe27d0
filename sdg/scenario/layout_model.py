"""Road layouts as plain data: the baked ground raster, static props, street lights, the lane graph that vehicles
follow, the sidewalk/crosswalk graph that pedestrians follow, signal heads/signs (annotated static actors) and the
signal plan that drives them. Builders: sdg.scenario.junction (the built-in layouts, by name through
sdg.scenario.layout.build_layout) and sdg.scenario.opendrive (OpenDRIVE maps). This module imports neither.

World frame: CARLA (x forward/east, y right/south, z up), metres; headings in radians from +x toward +y; CARLA
yaw in degrees only where an Actor/Scene is produced. Vehicles drive on the right.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from sdg.scenario.polyline import Polyline
from sdg.scenario.signals import SignalPlan
from sdg.scene import Actor, GroundMap, Light, Prop

STATIC_ID_BASE = 9000  # actor ids >= this are reserved for layout actors (traffic lights, signs)


@dataclass
class Lane:
    """A directed lane centre line. kind: "entry" (toward a junction, ends at its stop line), "exit" (away from a
    junction), "junction" (a connector through the junction box). `index` 0 is the innermost (leftmost) lane."""

    id: int
    path: Polyline
    width: float
    speed_limit: float  # m/s
    kind: str
    arm: str = ""  # arm name ("N", "E", "S", "W") of entry/exit lanes
    index: int = 0
    successors: list[int] = field(default_factory=list)
    predecessors: list[int] = field(default_factory=list)
    stop_s: float | None = None  # arc length of the stop line along `path` (entry lanes)
    light_id: int | None = None  # traffic-light actor id governing the stop line
    movement: str = ""  # junction lanes: "straight" | "left" | "right"
    priority: int = 0  # junction lanes: higher has right of way
    conflicts: set[int] = field(default_factory=set)  # junction lanes that may not be occupied at the same time

    @property
    def stop_line(self) -> np.ndarray | None:
        """(2, 2) the stop-line segment across this lane, or None."""
        if self.stop_s is None:
            return None
        p = self.path.point_at(np.array([self.stop_s]))[0]
        h = float(self.path.heading_at(self.stop_s))
        n = np.array([-np.sin(h), np.cos(h)]) * self.width / 2
        return np.array([p - n, p + n])


@dataclass
class Crosswalk:
    """A pedestrian crossing: `path` from one sidewalk centre line to the other; `width` across the path."""

    id: int
    arm: str
    path: Polyline
    width: float
    signalised: bool
    polygon: np.ndarray  # (4, 2) painted area on the road
    kerbs: tuple[float, float] = (0.0, 0.0)  # arc lengths along `path` where the road begins and ends


@dataclass
class WalkEdge:
    a: int  # node indices
    b: int
    kind: str  # "sidewalk" | "crosswalk"
    crosswalk: int = -1  # Crosswalk.id for crosswalk edges


@dataclass
class StaticActorSpec:
    """A traffic light or sign of the layout. The actor's local +x axis points toward the traffic it faces."""

    id: int
    type_id: str
    category: str  # "traffic_light" | "traffic_sign"
    location: tuple[float, float, float]
    yaw: float  # degrees (CARLA)
    size: tuple[float, float, float]
    group: str = ""  # signal group of a traffic light
    color: tuple[int, int, int] = (50, 52, 55)
    attributes: dict = field(default_factory=dict)


@dataclass
class Layout:
    name: str
    map_name: str
    seed: int
    ground: GroundMap
    props: list[Prop]
    lights: list[Light]
    lanes: dict[int, Lane]
    crosswalks: list[Crosswalk]
    walk_nodes: np.ndarray  # (M, 2) pedestrian graph nodes
    walk_edges: list[WalkEdge]
    static_specs: list[StaticActorSpec]
    signals: SignalPlan | None
    extent: tuple[float, float, float, float]  # x0, y0, x1, y1 of the ground raster
    walk_dead_ends: set[int] = field(default_factory=set)  # nodes at the raster edge (pedestrians turn around)
    info: dict = field(default_factory=dict)  # layout-specific numbers (road half widths, stop distances...)

    # ------------------------------------------------------------------------------------------- lane queries
    def lanes_of(self, kind: str) -> list[Lane]:
        return [l for l in self.lanes.values() if l.kind == kind]

    def stop_lines(self) -> list[tuple[np.ndarray, int | None]]:
        """(segment (2, 2), governing traffic-light actor id) for every entry lane with a stop line."""
        return [(l.stop_line, l.light_id) for l in self.lanes.values() if l.stop_s is not None]

    def lane_at(self, x, y, kinds=("entry", "exit")) -> np.ndarray:
        """Id of the lane (of the given kinds) whose strip contains each point (x, y), -1 where none.
        Points inside several strips (overlapping junction connectors) get the nearest centre line's lane."""
        q = np.stack([np.ravel(x), np.ravel(y)], axis=1).astype(np.float64)
        best = np.full(len(q), np.inf)
        out = np.full(len(q), -1, np.int64)
        for lane in self.lanes.values():
            if lane.kind not in kinds:
                continue
            s, d = lane.path.project(q)
            inside = (np.abs(d) <= lane.width / 2) & (s > 1e-6) & (s < lane.path.length - 1e-6)
            better = inside & (np.abs(d) < best)
            best[better] = np.abs(d[better])
            out[better] = lane.id
        return out.reshape(np.shape(x))

    def lane_direction(self, x: float, y: float) -> np.ndarray | None:
        """Unit driving direction (2,) of the entry/exit lane containing (x, y), or None (off lanes, or in the
        junction box where directions are ambiguous). Usable as `lane_direction_fn` by event detectors."""
        lid = int(self.lane_at(np.array([x]), np.array([y]))[0])
        if lid < 0:
            return None
        lane = self.lanes[lid]
        s, _ = lane.path.project(np.array([[x, y]]))
        h = float(lane.path.heading_at(s[0]))
        return np.array([np.cos(h), np.sin(h)])

    # ------------------------------------------------------------------------------------------- actors
    def signal_states(self, group: str, times, plan: SignalPlan | None = None) -> list[str]:
        plan = plan or self.signals
        if plan is None:
            return ["green"] * len(times)
        return [plan.state(group, float(t)) for t in times]

    def static_actors(self, times, plan: SignalPlan | None = None) -> list[Actor]:
        """Traffic lights (states per frame from `plan`, default the layout's plan) and signs as Actors with
        identical poses at every frame."""
        times = np.asarray(times, dtype=np.float64)
        out = []
        for spec in self.static_specs:
            pose = np.array([*spec.location, 0.0, 0.0, spec.yaw], dtype=np.float64)
            states = self.signal_states(spec.group, times, plan) if spec.category == "traffic_light" else None
            out.append(
                Actor(
                    id=spec.id,
                    type_id=spec.type_id,
                    category=spec.category,
                    size=np.array(spec.size, dtype=np.float64),
                    poses=np.repeat(pose[None], len(times), axis=0),
                    box_offset=np.array([0.0, 0.0, spec.size[2] / 2]),
                    color=spec.color,
                    size_source="generator",
                    states=states,
                    attributes=dict(spec.attributes),
                )
            )
        return out

    def in_bounds(self, x, y, margin: float = 0.0) -> np.ndarray:
        x0, y0, x1, y1 = self.extent
        x, y = np.asarray(x), np.asarray(y)
        return (x >= x0 + margin) & (x <= x1 - margin) & (y >= y0 + margin) & (y <= y1 - margin)


def mark_conflicts(lanes: Iterable[Lane], clearance: float = 3.2) -> None:
    """Mark the given junction connectors (the connectors of ONE junction: the caller picks them) as conflicting
    in pairs whose centre lines, resampled every 0.5 m, come closer than `clearance` metres, except pairs that
    leave the same lane (they share their first metres; car following keeps those apart). Adds to each lane's
    `conflicts` set; pairs whose bounding boxes are more than `clearance` apart are skipped without measuring."""
    lanes = list(lanes)
    pts = {lane.id: lane.path.resampled(0.5).points for lane in lanes}
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
