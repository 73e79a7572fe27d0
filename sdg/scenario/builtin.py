"""Built-in scenario generator: `build_scene(BuiltinScenario) -> Scene`, deterministic in spec.seed.

A scene is a layout (sdg.scenario.layout) + traffic simulated by sdg.scenario.simulation for a warm-up period and
the clip window, sampled at spec.fps: frames at t = 0, 1/fps, ... (round(duration * fps) frames). A scenario kind
adds scripted actors whose trajectories are planned so the event happens inside the window and in view of the
default corner camera (configs/cameras/intersection_corner.yaml, `DEFAULT_CAMERA`); the traffic around them
is ordinary simulated traffic. Each attempt is checked (event timing, visibility, no unintended box overlap, no
unintended red-light running); a failed check retries with the next sub-seed, so the result is still a pure function
of the spec.

Actor poses: origin on the ground (z = 0) under the box centre, yaw = heading of motion (CARLA degrees), box_offset
(0, 0, h/2); vehicle and walker sizes from sdg/data/carla_0.9.16_actor_sizes.json (size_source "table"). Vehicle and
pedestrian ids are 1, 2, ...; traffic lights and signs use ids >= layout_model.STATIC_ID_BASE.
The lane geometry of a scene's layout does not depend on the seed: `build_layout(scene.map_name, 0)` gives the lanes
and stop lines that event detectors need (`Layout.lane_direction`, `Layout.stop_lines()`).

Modules: this one (the kinds, the attempt loop, the window checks, the Scene), sdg.scenario.traffic (blueprint
sizes, the attempt context, ordinary traffic), sdg.scenario.incidents (the scripted event of each kind).
"""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np

from sdg.config import BuiltinScenario
from sdg.geometry import wrap_degrees
from sdg.scenario import incidents
from sdg.scenario.incidents import DEFAULT_CAMERA, KindPlan, boxes_overlap
from sdg.scenario.layout import build_layout
from sdg.scenario.layout_model import Layout
from sdg.scenario.simulation import Simulation
from sdg.scenario.traffic import AttemptContext, Retry, random_vehicles, random_walkers
from sdg.scene import Actor, Event, Scene
from sdg.seeds import stable_seed

__all__ = ["SCENARIO_KINDS", "DEFAULT_CAMERA", "build_scene"]

log = logging.getLogger(__name__)

SCENARIO_KINDS: dict[str, str] = {
    "collision": "a car runs a red light and hits a car crossing on green; both stop after contact "
                 "(events: red_light, collision)",
    "near_miss": "a car runs a red light; a crossing car brakes hard and stops short, time-to-collision < 1.5 s, "
                 "no contact (events: red_light, near_miss)",
    "wrong_way": "a car drives toward the junction against the direction of its lane and stops before the "
                 "crossing (event: wrong_way)",
    "jaywalking": "a pedestrian crosses the road mid-block, away from the zebra crossings; traffic brakes "
                  "(event: jaywalking)",
    "rush_hour": "dense traffic (3x the configured vehicles, at least 20; 2x pedestrians, at least 12), queues at "
                 "the lights, no scripted event",
    "traffic": "ordinary traffic at the configured density, no scripted event",
}

WARMUP = 12.0  # seconds simulated before t = 0 so queues and platoons look settled
MAX_ATTEMPTS = 10

_PLANNERS: dict[str, Callable[[AttemptContext], KindPlan]] = {
    "collision": incidents.plan_collision,
    "near_miss": incidents.plan_near_miss,
    "wrong_way": incidents.plan_wrong_way,
    "jaywalking": incidents.plan_jaywalking,
    "rush_hour": incidents.plan_rush_hour,
    "traffic": incidents.plan_traffic,
}


# ----------------------------------------------------------------------------------------------------- public
def build_scene(spec: BuiltinScenario) -> Scene:
    """Simulate the built-in scenario `spec` (see module docstring). Raises ValueError for an unknown kind or a
    kind/layout/duration combination that cannot host the event."""
    if spec.scenario not in SCENARIO_KINDS:
        raise ValueError(f"unknown scenario kind {spec.scenario!r} (scenario {spec.id!r}); known kinds: "
                         f"{sorted(SCENARIO_KINDS)}")
    layout = build_layout(spec.layout, spec.seed)
    if spec.scenario in ("collision", "near_miss") and not layout.info.get("crossing"):
        raise ValueError(f"scenario {spec.id!r}: kind {spec.scenario!r} needs a layout with a crossing road; "
                         f"layout {spec.layout!r} has none (use intersection, t_junction or arterial)")
    last = None
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _attempt(spec, layout, attempt)
        except Retry as e:
            last = e
            log.debug("scenario %s attempt %d: %s", spec.id, attempt, e)
    raise RuntimeError(f"scenario {spec.id!r} ({spec.scenario} on {spec.layout}, seed {spec.seed}): no valid "
                       f"outcome in {MAX_ATTEMPTS} attempts; last problem: {last}")


def _attempt(spec: BuiltinScenario, layout: Layout, attempt: int) -> Scene:
    rng = np.random.default_rng(stable_seed("sdg.scenario.builtin", spec.seed, spec.scenario, spec.layout, attempt))
    n_frames = max(1, int(round(spec.duration * spec.fps)))
    m = max(1, int(np.ceil((1.0 / spec.fps) / 0.05)))
    dt = 1.0 / (spec.fps * m)
    warm_frames = int(np.ceil(WARMUP * spec.fps))
    t0 = -warm_frames / spec.fps
    steps = (warm_frames + n_frames - 1) * m + 1
    times = np.arange(n_frames) / spec.fps
    plan = layout.signals.with_offset(float(rng.uniform(0, layout.signals.cycle))) if layout.signals else None
    ctx = AttemptContext(spec, layout, plan, rng, dt, m, t0, steps, times)
    kp = _PLANNERS[spec.scenario](ctx)
    n_random = max(0, spec.vehicles - len(kp.vehicles))
    if spec.scenario == "rush_hour":
        n_random = max(3 * spec.vehicles, 20)
    vehicles = kp.vehicles + random_vehicles(ctx, n_random, kp.exclusions, kp.closed_exits,
                                             dense=spec.scenario == "rush_hour")
    n_walk = max(2 * spec.pedestrians, 12) if spec.scenario == "rush_hour" else spec.pedestrians
    walkers = kp.walkers + random_walkers(ctx, max(0, n_walk - len(kp.walkers)))
    sim = Simulation(layout, ctx.plan, t0, dt, steps, vehicles, walkers, times=ctx.sim_times()).run()
    events = kp.finish(sim) if kp.finish else []
    _check_window(ctx, sim, kp.allowed_overlaps)
    return _scene(ctx, sim, events)


# ----------------------------------------------------------------------------------------------------- checks
def _check_window(ctx: AttemptContext, sim: Simulation, allowed: list[tuple[int, int, float]]) -> None:
    """No two vehicle footprints overlap inside the window (except allowed pairs after their contact), no walker
    overlaps a vehicle, and no simulated vehicle crossed a stop line on red."""
    st = ctx.sim_times()
    win = np.flatnonzero((st >= -1e-9) & (st <= ctx.t_last + 1e-9))
    V = sim.vehicles
    sizes = np.array([v.size for v in V]).reshape(-1, 3)
    ok_pairs = {(min(a, b), max(a, b)): t for a, b, t in allowed}
    for i in win:
        P = sim.veh_pose[i]
        for a in range(len(V)):
            d = np.hypot(*(P[a + 1:, :2] - P[a, :2]).T)
            reach = (np.hypot(*sizes[a, :2]) + np.hypot(sizes[a + 1:, 0], sizes[a + 1:, 1])) / 2
            for b in np.flatnonzero(d < reach) + a + 1:
                key = (min(V[a].id, V[b].id), max(V[a].id, V[b].id))
                if key in ok_pairs and st[i] >= ok_pairs[key]:
                    continue
                if boxes_overlap(P[a], sizes[a], P[b], sizes[b]):
                    raise Retry(f"vehicles {V[a].id} and {V[b].id} overlap at t={st[i]:.2f}")
        W = sim.walk_pose[i]
        for w_i, wk in enumerate(sim.walkers):
            d = np.hypot(*(P[:, :2] - W[w_i, :2]).T)
            for b in np.flatnonzero(d < np.hypot(sizes[:, 0], sizes[:, 1]) / 2 + 0.3):
                if boxes_overlap(P[b], sizes[b], W[w_i], wk.size):
                    raise Retry(f"walker {wk.id} and vehicle {V[b].id} overlap at t={st[i]:.2f}")
    for vid, crossings in sim.stop_cross.items():
        for t, light, state in crossings:
            if state == "red":
                raise Retry(f"simulated vehicle {vid} crossed a stop line on red at t={t:.2f}")


# ----------------------------------------------------------------------------------------------------- scene
def _scene(ctx: AttemptContext, sim: Simulation, events: list[Event]) -> Scene:
    k0 = ctx.step_of(0.0)
    fidx = k0 + np.arange(len(ctx.times)) * ctx.m
    actors: list[Actor] = []
    for j, v in enumerate(sim.vehicles):
        P = sim.veh_pose[fidx, j]
        actors.append(_actor(v.id, v.type_id, v.category, v.size, P, v.color,
                             {"route": v.route.lanes, **v.attributes}))
    for j, w in enumerate(sim.walkers):
        P = sim.walk_pose[fidx, j]
        actors.append(_actor(w.id, w.type_id, "pedestrian", w.size, P, w.color, dict(w.attributes)))
    actors += ctx.layout.static_actors(ctx.times, ctx.plan)
    rng = np.random.default_rng(stable_seed("sdg.scenario.sun", ctx.spec.seed))
    el, az = np.radians(rng.uniform(35, 65)), np.radians(rng.uniform(0, 360))
    sun = (-float(np.cos(el) * np.cos(az)), -float(np.cos(el) * np.sin(az)), -float(np.sin(el)))
    return Scene(name=ctx.spec.id, map_name=ctx.layout.name, times=ctx.times.copy(), ground=ctx.layout.ground,
                 props=list(ctx.layout.props), actors=actors, events=events, lights=list(ctx.layout.lights),
                 sun_direction=sun, source="builtin")


def _actor(aid, type_id, category, size, P, color, attrs) -> Actor:
    size = np.asarray(size, dtype=np.float64)
    poses = np.zeros((len(P), 6))
    poses[:, 0:2] = P[:, 0:2]
    poses[:, 5] = wrap_degrees(np.degrees(P[:, 2]))
    return Actor(id=int(aid), type_id=type_id, category=category, size=size, poses=poses,
                 box_offset=np.array([0.0, 0.0, size[2] / 2]), color=tuple(int(c) for c in color),
                 size_source="table", attributes=attrs)
