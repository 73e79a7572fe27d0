"""Vehicle routes: a chain of lanes (entry -> junction connector -> exit) flattened into one path with the arc
lengths of its stop lines and junction stretches, and a 0.5 m resampling with a per-point speed cap (lane limit and
curvature: v <= sqrt(a_lat / kappa))."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdg.scenario.layout_model import Layout
from sdg.scenario.polyline import Polyline

DS = 0.5  # metres between resampled route points
A_LAT = 2.8  # m/s^2 comfortable lateral acceleration in turns


@dataclass
class StopPoint:
    s: float  # route arc length of the stop line
    lane_id: int  # the entry lane that ends here
    light_id: int | None
    junction: int  # the junction lane that follows


class Route:
    """A vehicle's path: lanes, the flattened polyline, per-lane arc-length ranges, stop lines and junction
    stretches along it, and the 0.5 m resampling (`ps`, `pts`) with its speed cap `vmax` (m/s)."""

    def __init__(self, lanes: list[int], path: Polyline, lane_ranges: list[tuple[int, float, float]],
                 limits: list[float], stops: list[StopPoint], junctions: list[tuple[int, float, float]],
                 reversed: bool = False):
        self.lanes, self.path, self.lane_ranges = list(lanes), path, lane_ranges
        self.stops, self.junctions, self.reversed = stops, junctions, reversed
        n = max(2, int(np.ceil(path.length / DS)) + 1)
        self.ps = np.arange(n) * DS
        self.pts = path.point_at(self.ps)
        head = path.heading_at(self.ps)
        kappa = np.convolve(np.abs(np.gradient(head, DS)), np.ones(5) / 5, mode="same")
        vmax = np.full(n, float(min(limits)))
        for (_, s0, s1), lim in zip(lane_ranges, limits):
            m = (self.ps >= s0 - 1e-9) & (self.ps <= s1 + 1e-9)
            vmax[m] = lim
        self.vmax = np.minimum(vmax, np.sqrt(A_LAT / np.maximum(kappa, 1e-6)))

    @property
    def length(self) -> float:
        return self.path.length

    def lane_at(self, s: float) -> int:
        for lid, s0, s1 in self.lane_ranges:
            if s0 <= s <= s1:
                return lid
        return self.lane_ranges[-1][0] if s > 0 else self.lane_ranges[0][0]

    def pose(self, s) -> tuple[np.ndarray, np.ndarray]:
        """(positions (..., 2), headings (...) radians) at arc lengths s."""
        s = np.asarray(s, dtype=np.float64)
        return self.path.point_at(s), self.path.heading_at(s)


def make_route(layout: Layout, lane_ids: list[int], before: float = 0.0, after: float = 0.0,
               reverse: bool = False) -> Route:
    """Route through consecutive lanes (each must be a successor of the previous unless `reverse`, which drives
    the given lanes against their direction, in the given order). The first lane is extended `before` metres
    upstream and the last `after` metres downstream along their end directions."""
    paths = []
    for i, lid in enumerate(lane_ids):
        lane = layout.lanes[lid]
        if i > 0 and not reverse and lid not in layout.lanes[lane_ids[i - 1]].successors:
            raise ValueError(f"lane {lid} does not follow lane {lane_ids[i - 1]}")
        paths.append(lane.path.reversed() if reverse else lane.path)
    if before > 0:
        paths[0] = paths[0].extended(before=before)
    if after > 0:
        paths[-1] = paths[-1].extended(after=after)
    pts, ranges, stops, junctions, s0 = [], [], [], [], 0.0
    limits = []
    for i, (lid, p) in enumerate(zip(lane_ids, paths)):
        lane = layout.lanes[lid]
        pts.append(p.points if i == 0 else p.points[1:])
        s1 = s0 + p.length
        ranges.append((lid, s0, s1))
        limits.append(lane.speed_limit)
        if lane.kind == "junction":
            junctions.append((lid, s0, s1))
        if not reverse and lane.stop_s is not None and i + 1 < len(lane_ids):
            off = before if i == 0 else 0.0
            stops.append(StopPoint(s=s0 + off + lane.stop_s, lane_id=lid, light_id=lane.light_id,
                                   junction=lane_ids[i + 1]))
        s0 = s1
    return Route(lane_ids, Polyline(np.concatenate(pts)), ranges, limits, stops, junctions, reverse)


def route_choices(layout: Layout, entry_lane: int) -> list[list[int]]:
    """All lane chains entry -> connector -> exit starting from an entry lane."""
    out = []
    lane = layout.lanes[entry_lane]
    for j in lane.successors:
        for x in layout.lanes[j].successors:
            out.append([entry_lane, j, x])
    return out
