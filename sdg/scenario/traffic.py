"""Actors of the built-in scenarios (sdg.scenario.builtin): the CARLA 0.9.16 blueprint size table, the context of
one generation attempt, and the ordinary traffic around a scripted event: vehicles on random routes through the
junction, placed so that queues form during the warm-up, and pedestrians on random walks. Every random draw comes
from the attempt's generator (`AttemptContext.rng`) in a fixed order, so a scene stays a pure function of its spec.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from sdg.config import BuiltinScenario
from sdg.scenario.layout_model import Layout
from sdg.scenario.polyline import Polyline
from sdg.scenario.routes import Route, make_route, route_choices
from sdg.scenario.signals import SignalPlan
from sdg.scenario.simulation import VehicleAgent
from sdg.scenario.walkers import WalkerAgent, random_walk, walker_path

VEHICLE_MIX = {"car": 0.66, "van": 0.08, "truck": 0.06, "bus": 0.03, "motorcycle": 0.09, "bicycle": 0.08}
CAR_COLORS = [(235, 235, 232), (20, 20, 22), (150, 152, 156), (95, 97, 100), (160, 22, 26), (28, 52, 120),
              (16, 30, 62), (36, 84, 52), (214, 170, 30), (196, 180, 150), (110, 24, 30), (60, 110, 160)]
CLOTHES = [(40, 44, 60), (150, 30, 36), (30, 70, 140), (220, 220, 215), (70, 70, 72), (200, 150, 40),
           (60, 110, 70), (120, 80, 140), (180, 100, 60), (24, 24, 26)]


class Retry(Exception):
    """This attempt's outcome does not satisfy the scenario; try the next sub-seed."""


@functools.lru_cache(maxsize=1)
def actor_size_table() -> dict[str, dict]:
    """Blueprint id -> {class, length, width, height} (metres) of CARLA 0.9.16 (see sdg/data/ATTRIBUTION.md)."""
    return json.loads(resources.files("sdg").joinpath("data/carla_0.9.16_actor_sizes.json").read_text())


def blueprints(cls: str) -> list[str]:
    return sorted(k for k, v in actor_size_table().items() if v["class"] == cls)


# ----------------------------------------------------------------------------------------------------- context
@dataclass
class AttemptContext:
    """One generation attempt of a built-in scenario: its spec, layout, signal plan (kinds may replace it), random
    generator, simulation step `dt` (`m` steps per frame) from `t0` (< 0: the warm-up) for `steps` steps, the frame
    times, and the next free actor id."""

    spec: BuiltinScenario
    layout: Layout
    plan: SignalPlan
    rng: np.random.Generator
    dt: float
    m: int  # simulation steps per frame
    t0: float
    steps: int
    times: np.ndarray
    next_id: int = 1

    @property
    def t_last(self) -> float:
        return float(self.times[-1])

    def step_of(self, t: float) -> int:
        return int(round((t - self.t0) / self.dt))

    def sim_times(self) -> np.ndarray:
        """Simulation step times, exactly equal to the frame times at frame steps."""
        k0 = int(round(-self.t0 / self.dt))
        return (np.arange(self.steps) - k0) / (self.spec.fps * self.m)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


# ----------------------------------------------------------------------------------------------------- traffic
def pick_blueprint(rng, cls: str) -> str:
    bps = blueprints(cls)
    return bps[int(rng.integers(len(bps)))]


def new_vehicle(ctx: AttemptContext, cls: str, route: Route, s: float, v: float, bp: str | None = None,
                **kw) -> VehicleAgent:
    rng = ctx.rng
    bp = bp or pick_blueprint(rng, cls)
    t = actor_size_table()[bp]
    heavy = cls in ("truck", "bus")
    color = CAR_COLORS[int(rng.integers(len(CAR_COLORS)))]
    if cls == "bus":
        color = [(214, 170, 30), (235, 235, 232), (160, 22, 26)][int(rng.integers(3))]
    return VehicleAgent(
        id=ctx.new_id(), type_id=bp, category=cls, size=(t["length"], t["width"], t["height"]), color=color,
        route=route, s=s, v=v, speed_factor=float(rng.uniform(0.85, 1.08)),
        a_max=float(rng.uniform(1.0, 1.4) if heavy else rng.uniform(1.6, 2.6)),
        b_comf=float(rng.uniform(2.5, 3.5)), headway=float(rng.uniform(1.1, 1.7)), **kw)


def random_vehicles(ctx: AttemptContext, n: int, exclusions: dict[int, float], closed_exits: set[int],
                    dense: bool = False) -> list[VehicleAgent]:
    """n vehicles on random routes, placed so that in free flow they would be between 25 m past and 75 m before
    their stop line at t = 0 (dense: 15 m past to 55 m before, shorter spacing); queues form during warm-up."""
    lay, rng = ctx.layout, ctx.rng
    entries = lay.lanes_of("entry")
    arm_lanes = {}
    for l in entries:
        arm_lanes.setdefault(l.arm, []).append(l.index)
    cats, probs = list(VEHICLE_MIX), np.array(list(VEHICLE_MIX.values()))
    horizon = -ctx.t0 + ctx.t_last
    planned = []  # (entry lane, lanes, cls, bp, d_init, v_des)
    for _ in range(n):
        for _try in range(30):
            cls = cats[int(rng.choice(len(cats), p=probs / probs.sum()))]
            slow = cls in ("truck", "bus", "bicycle")
            pool = [l for l in entries if not slow or l.index == max(arm_lanes[l.arm])]
            entry = pool[int(rng.integers(len(pool)))]
            if exclusions.get(entry.id) == np.inf:
                continue
            choices = [c for c in route_choices(lay, entry.id) if c[2] not in closed_exits]
            if cls in ("truck", "bus"):
                choices = [c for c in choices if lay.lanes[c[1]].movement == "straight"]
            elif cls == "bicycle":
                choices = [c for c in choices if lay.lanes[c[1]].movement in ("straight", "right")]
            if not choices:
                continue
            w = np.array([{"straight": 3.0, "right": 1.0, "left": 1.0}[lay.lanes[c[1]].movement] for c in choices])
            lanes = choices[int(rng.choice(len(choices), p=w / w.sum()))]
            limit = 5.5 if cls == "bicycle" else entry.speed_limit
            v_des = limit * float(rng.uniform(0.85, 1.05))
            d0 = float(rng.uniform(-15.0, 55.0) if dense else rng.uniform(-25.0, 75.0))  # before the line at t=0
            planned.append([entry, lanes, cls, pick_blueprint(rng, cls), d0 + v_des * -ctx.t0, v_des])
            break
    out = []
    for entry in entries:
        mine = sorted([p for p in planned if p[0].id == entry.id], key=lambda p: p[4])
        prev_d, prev_l = exclusions.get(entry.id, -np.inf), 0.0
        for p in mine:
            L = actor_size_table()[p[3]]["length"]
            p[4] = max(p[4], prev_d + (prev_l + L) / 2 + (4.0 if dense else 8.0), 5.0 + L / 2)
            prev_d, prev_l = p[4], L
            before = max(0.0, p[4] + L - entry.path.length + 5.0)
            route = make_route(ctx.layout, p[1], before=before, after=p[5] * horizon + 60.0)
            s_stop = route.stops[0].s
            out.append(new_vehicle(ctx, p[2], route, s=s_stop - p[4], v=p[5] * 0.9, bp=p[3]))
    return out


def random_walkers(ctx: AttemptContext, n: int) -> list[WalkerAgent]:
    rng, lay = ctx.rng, ctx.layout
    horizon = -ctx.t0 + ctx.t_last
    out = []
    for _ in range(n):
        speed = float(rng.uniform(1.1, 1.6))
        for _try in range(20):
            seq, frac, _ = random_walk(lay, rng, speed * horizon + 20.0)
            a, b = lay.walk_nodes[seq[0]], lay.walk_nodes[seq[1]]
            start = a + frac * (b - a)
            if np.hypot(*start) < 45.0:
                break
        path, waits, s0 = walker_path(lay, seq, frac, float(rng.uniform(0.15, 0.8)))
        out.append(new_walker(ctx, path, waits, s0, speed))
    return out


def new_walker(ctx: AttemptContext, path: Polyline, waits, s0: float, speed: float, bp: str | None = None,
               **kw) -> WalkerAgent:
    rng = ctx.rng
    if bp is None:
        adults = [b for b in blueprints("walker") if actor_size_table()[b]["height"] > 1.5]
        kids = [b for b in blueprints("walker") if actor_size_table()[b]["height"] <= 1.5]
        pool = kids if rng.random() < 0.12 else adults
        bp = pool[int(rng.integers(len(pool)))]
    t = actor_size_table()[bp]
    if t["height"] <= 1.5:
        speed *= 0.85
    return WalkerAgent(id=ctx.new_id(), type_id=bp, size=(t["length"], t["width"], t["height"]),
                       color=CLOTHES[int(rng.integers(len(CLOTHES)))], path=path, speed=speed, waits=waits, s=s0, **kw)
