"""Pedestrians: seeded random walks over a layout's sidewalk/crosswalk graph, turned into one smooth walking path
per pedestrian (kept `offset` metres to the right of the graph edges, mitred at corners), with wait points at the
kerb before every crossing. Whether a pedestrian may step onto a crossing is decided by the simulation (signal
walk phase, time left, no vehicle on the crossing)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sdg.scenario.layout_model import Layout
from sdg.scenario.polyline import Polyline

KERB_GAP = 1.0  # metres between a waiting pedestrian and the kerb


@dataclass
class CrossingWait:
    s: float  # path arc length where the pedestrian waits (kerb side of the crossing)
    s_end: float  # path arc length where the crossing ends
    crosswalk: int  # Crosswalk id, or -1 for a mid-block (jaywalking) crossing
    length: float


@dataclass
class WalkerAgent:
    id: int
    type_id: str
    size: tuple[float, float, float]
    color: tuple[int, int, int]
    path: Polyline
    speed: float  # m/s walking speed
    waits: list[CrossingWait] = field(default_factory=list)
    s: float = 0.0
    v: float = 0.0
    crossing: int = -1  # index into waits of the crossing being walked, -1 when on a sidewalk
    jaywalker: bool = False
    not_before: float = -np.inf  # a jaywalker does not start crossing before this time
    attributes: dict = field(default_factory=dict)

    def pose(self) -> tuple[np.ndarray, float]:
        p = self.path.point_at(np.array([self.s]))[0]
        return p, float(self.path.heading_at(self.s))

    def next_wait(self) -> CrossingWait | None:
        for w in self.waits:
            if w.s >= self.s - 1e-6:
                return w
        return None


def offset_path(points: np.ndarray, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """Offset a polyline `offset` metres to the right of its direction (CARLA axes: right of +x is +y), with
    mitred corners; a U-turn vertex becomes a short sideways step across the path. Returns (points, index of each
    input vertex among the output points)."""
    p = np.asarray(points, float)
    d = np.diff(p, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1)
    out = [p[0] + offset * n[0]]
    idx = [0]
    for i in range(1, len(p) - 1):
        n_in, n_out = n[i - 1], n[i]
        c = float(n_in @ n_out)
        if c < -0.9:  # U-turn
            out += [p[i] + offset * n_in + d[i - 1] * 0.3, p[i] + offset * n_out + d[i - 1] * 0.3]
            idx.append(len(out) - 1)
        else:
            out.append(p[i] + offset * (n_in + n_out) / (1.0 + c))
            idx.append(len(out) - 1)
    out.append(p[-1] + offset * n[-1])
    idx.append(len(out) - 1)
    return np.array(out), np.array(idx)


def random_walk(layout: Layout, rng, length: float) -> tuple[list[int], float, int]:
    """A random node sequence over the walk graph of at least `length` metres, starting at a uniformly random
    point of a random sidewalk edge. Returns (nodes, start fraction along the first edge, unused)."""
    nodes, edges = layout.walk_nodes, layout.walk_edges
    adj: dict[int, list[int]] = {}
    for e in edges:
        adj.setdefault(e.a, []).append(e.b)
        adj.setdefault(e.b, []).append(e.a)
    side = [e for e in edges if e.kind == "sidewalk"]
    e = side[int(rng.integers(len(side)))]
    a, b = (e.a, e.b) if rng.random() < 0.5 else (e.b, e.a)
    frac = float(rng.uniform(0.0, 1.0))
    seq = [a, b]
    total = (1 - frac) * float(np.linalg.norm(nodes[b] - nodes[a]))
    while total < length:
        cur, prev = seq[-1], seq[-2]
        nxt = [x for x in adj[cur] if x != prev]
        if not nxt:  # dead end: turn around
            nxt = [prev]
        x = nxt[int(rng.integers(len(nxt)))]
        total += float(np.linalg.norm(nodes[x] - nodes[cur]))
        seq.append(x)
    return seq, frac, 0


def walker_path(layout: Layout, seq: list[int], frac: float,
                offset: float) -> tuple[Polyline, list[CrossingWait], float]:
    """The offset walking path of a node sequence, its crossing wait points, and the start arc length."""
    nodes = layout.walk_nodes
    pts, idx = offset_path(nodes[seq], offset)
    path = Polyline(pts)
    s_out = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))])
    s_nodes = s_out[idx]
    cw_edges = {}
    for e in layout.walk_edges:
        if e.kind == "crosswalk":
            cw_edges[(e.a, e.b)] = e.crosswalk
            cw_edges[(e.b, e.a)] = e.crosswalk
    waits = []
    for i in range(len(seq) - 1):
        c = cw_edges.get((seq[i], seq[i + 1]))
        if c is not None:
            cw = layout.crosswalks[c]
            # wait KERB_GAP before the kerb, wherever the (mitred, offset) path enters the crossing
            along = float(cw.path.project(pts[idx[i]][None])[0][0])
            forward = np.dot(nodes[seq[i + 1]] - nodes[seq[i]], cw.path.end - cw.path.start) > 0
            if forward:
                s0 = float(s_nodes[i]) + (cw.kerbs[0] - KERB_GAP - along)
            else:
                s0 = float(s_nodes[i]) + (along - cw.kerbs[1] - KERB_GAP)
            s1 = float(s_nodes[i + 1])
            waits.append(CrossingWait(s=s0, s_end=s1, crosswalk=c, length=s1 - s0))
    first_len = float(np.linalg.norm(nodes[seq[1]] - nodes[seq[0]]))
    s_start = float(s_nodes[0]) + frac * first_len
    return path, waits, s_start
