"""Event planning of the built-in scenario kinds (sdg.scenario.builtin): each planner gets the attempt's context
and returns a `KindPlan`: scripted vehicles and walkers whose trajectories put the event inside the clip window and
in view of the default corner camera (`DEFAULT_CAMERA`), the entry lanes and exits ordinary traffic must keep
clear of, the overlaps that are intended (a collision), and a `finish` callback that checks the simulated outcome
and returns the scene's Events (raising `Retry` when this attempt's outcome does not qualify).

    traffic, rush_hour      no scripted actor (rush_hour shifts the signal plan toward green phases)
    collision, near_miss    a red-light runner and a car crossing on green (_red_light_pair); contact
                            (_after_impact) or a hard stop short of it (_hard_brake)
    wrong_way               a car driving an exit lane toward the junction
    jaywalking              a pedestrian crossing mid-block away from the zebra crossings
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from sdg.geometry import Camera
from sdg.scenario.polyline import Polyline, rect_corners, rects_overlap
from sdg.scenario.routes import Route, make_route, route_choices
from sdg.scenario.simulation import Simulation, VehicleAgent
from sdg.scenario.traffic import (
    CAR_COLORS,
    AttemptContext,
    Retry,
    actor_size_table,
    new_vehicle,
    new_walker,
    pick_blueprint,
)
from sdg.scenario.walkers import CrossingWait, WalkerAgent
from sdg.scene import Event
from sdg.tags import TAG

# The default traffic camera: configs/cameras/intersection_corner.yaml (9.5 m pole at the north-west corner).
DEFAULT_CAMERA = Camera("intersection_corner", 960, 540, 90.0, (-13.0, -13.0, 9.5), (0.0, -26.0, 45.0))


@dataclass
class KindPlan:
    """What a scenario kind adds to an attempt (see the module docstring)."""

    vehicles: list[VehicleAgent] = field(default_factory=list)
    walkers: list[WalkerAgent] = field(default_factory=list)
    exclusions: dict[int, float] = field(default_factory=dict)  # entry lane -> min start distance from stop line
    closed_exits: set[int] = field(default_factory=set)
    allowed_overlaps: list[tuple[int, int, float]] = field(default_factory=list)  # (id, id, from time)
    finish: Callable[[Simulation], list[Event]] | None = None


# ----------------------------------------------------------------------------------------------------- geometry
def _poses_on(route: Route, s: np.ndarray) -> np.ndarray:
    p, h = route.pose(s)
    return np.concatenate([p, h[:, None]], axis=1)


def boxes_overlap(pa, sa, pb, sb, margin: float = 0.0) -> bool:
    return rects_overlap(rect_corners(pa[:2], pa[2], sa[0], sa[1]), rect_corners(pb[:2], pb[2], sb[0], sb[1]), margin)


def _first_overlap(times: np.ndarray, pa: np.ndarray, sa, pb: np.ndarray, sb) -> int | None:
    """Index of the first time whose footprints overlap (pa, pb: (T, 3) x, y, heading)."""
    near = np.hypot(*(pa[:, :2] - pb[:, :2]).T) < (np.hypot(*sa[:2]) + np.hypot(*sb[:2])) / 2 + 0.1
    for i in np.flatnonzero(near):
        if boxes_overlap(pa[i], sa, pb[i], sb):
            return int(i)
    return None


def _rect_gap(pa, sa, pb, sb) -> float:
    """Clearance between two footprints (0 when they overlap)."""
    a = rect_corners(pa[:2], pa[2], sa[0], sa[1])
    b = rect_corners(pb[:2], pb[2], sb[0], sb[1])
    if rects_overlap(a, b):
        return 0.0

    def pt_seg(p, s0, s1):
        d = s1 - s0
        t = np.clip(np.dot(p - s0, d) / np.dot(d, d), 0, 1)
        return float(np.hypot(*(p - s0 - t * d)))

    return min(min(pt_seg(p, q[i], q[(i + 1) % 4]) for p in P for i in range(4)) for P, q in ((a, b), (b, a)))


def in_view(actor_center: np.ndarray, cam: Camera = DEFAULT_CAMERA, margin: float = 0.0) -> bool:
    """Is the box centre (x, y, z) in front of the camera and inside the image (with a pixel margin)?"""
    uv, z = cam.project(np.asarray(actor_center, float)[None])
    u, v = uv[0]
    return bool(z[0] > 0.5 and margin <= u <= cam.width - margin and margin <= v <= cam.height - margin)


def _crossing_pairs(ctx: AttemptContext) -> list[tuple]:
    """(victim lanes, runner lanes, crossing point) for a victim going straight on one axis and a runner whose
    connector crosses it at > 45 degrees (a T-bone, not a merge)."""
    lay = ctx.layout
    out = []
    for va in lay.lanes_of("entry"):
        for vc in route_choices(lay, va.id):
            if lay.lanes[vc[1]].movement != "straight":
                continue
            for ra in lay.lanes_of("entry"):
                if ra.arm == va.arm or _axis(ra.arm) == _axis(va.arm):
                    continue
                for rc in route_choices(lay, ra.id):
                    if rc[1] not in lay.lanes[vc[1]].conflicts:
                        continue
                    x = _crossing(lay.lanes[vc[1]].path, lay.lanes[rc[1]].path)
                    if x is not None:
                        out.append((vc, rc, x))
    return out


_ARM_U = {"E": np.array([1.0, 0.0]), "S": np.array([0.0, 1.0]), "W": np.array([-1.0, 0.0]), "N": np.array([0.0, -1.0])}


def _axis(arm: str) -> str:
    return "ew" if arm in ("E", "W") else "ns"


def _crossing(pa: Polyline, pb: Polyline):
    """First crossing point of two polylines at an angle > 45 degrees, or None."""
    a = pa.resampled(0.25).points
    b = pb.resampled(0.25).points
    for i in range(len(b) - 1):
        p, r = b[i], b[i + 1] - b[i]
        q, s = a[:-1], a[1:] - a[:-1]
        rxs = r[0] * s[:, 1] - r[1] * s[:, 0]
        ok = np.abs(rxs) > 1e-12
        qp = q - p
        t = np.where(ok, (qp[:, 0] * s[:, 1] - qp[:, 1] * s[:, 0]) / np.where(ok, rxs, 1), -1)
        u = np.where(ok, (qp[:, 0] * r[1] - qp[:, 1] * r[0]) / np.where(ok, rxs, 1), -1)
        hit = ok & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
        if hit.any():
            j = int(np.flatnonzero(hit)[0])
            cosang = abs(np.dot(r, s[j])) / (np.hypot(*r) * np.hypot(*s[j]))
            if cosang < np.cos(np.radians(45)):
                return p + t[j] * r
            return None
    return None


def _signal_group_of(ctx: AttemptContext, entry_lane: int) -> str:
    lid = ctx.layout.lanes[entry_lane].light_id
    return next(s.group for s in ctx.layout.static_specs if s.id == lid)


# ----------------------------------------------------------------------------------------------------- kinds
def plan_traffic(ctx: AttemptContext) -> KindPlan:
    return KindPlan()


def plan_rush_hour(ctx: AttemptContext) -> KindPlan:
    # favour phases with vehicles moving
    plan = ctx.layout.signals
    if plan is not None:
        names = [p.name for p in plan.phases if p.green]
        name = names[int(ctx.rng.integers(len(names)))]
        dur = next(p.duration for p in plan.phases if p.name == name)
        ctx.plan = plan.with_offset(plan.offset_for(name, 0.0, float(ctx.rng.uniform(0, dur))))
    return KindPlan()


def _red_light_pair(ctx: AttemptContext, brake: bool) -> KindPlan:
    """Shared plan of collision / near_miss: a red-light runner and a car crossing on green."""
    rng, lay = ctx.rng, ctx.layout
    pairs = _crossing_pairs(ctx)
    if not pairs:
        raise ValueError(f"layout {lay.name!r} has no crossing connectors for a red-light scenario")
    v_r = float(rng.uniform(11.0, 14.0))
    v_v = float(rng.uniform(8.0, 10.5))
    margin_end = 0.6 if brake else 0.4

    def lead_time(p) -> float:  # seconds from the runner's stop line to the crossing point
        path = lay.lanes[p[1][1]].path
        return 0.25 + (float(path.project(p[2][None])[0][0]) + 2.5) / v_r

    fit = [p for p in pairs if lead_time(p) <= ctx.t_last - margin_end and in_view(np.array([*p[2], 0.8]), margin=60)]
    if not fit:
        need = min(lead_time(p) for p in pairs) + margin_end + 1.0 / ctx.spec.fps
        raise ValueError(f"scenario {ctx.spec.id!r}: kind {ctx.spec.scenario!r} needs duration >= {need:.1f} s "
                         f"(got {ctx.spec.duration} s)")
    vlanes, rlanes, xpt = fit[int(rng.integers(len(fit)))]
    g_v, g_r = _signal_group_of(ctx, vlanes[0]), _signal_group_of(ctx, rlanes[0])
    bp_r = pick_blueprint(rng, "car")
    bp_v = pick_blueprint(rng, ["car", "car", "car", "van"][int(rng.integers(4))])
    cls_v = actor_size_table()[bp_v]["class"]
    sz_r = np.array([actor_size_table()[bp_r][k] for k in ("length", "width", "height")])
    sz_v = np.array([actor_size_table()[bp_v][k] for k in ("length", "width", "height")])
    horizon = -ctx.t0 + ctx.t_last
    R_r = make_route(lay, rlanes, before=v_r * horizon + 20.0, after=60.0)
    R_v = make_route(lay, vlanes, before=v_v * horizon + 20.0, after=v_v * horizon + 60.0)
    sx_r, _ = R_r.path.project(xpt[None])
    sx_v, _ = R_v.path.project(xpt[None])
    sx_r, sx_v = float(sx_r[0]), float(sx_v[0])
    # time from the runner's stop line to the contact, to place contact inside the window
    d_line_to_x = sx_r - R_r.stops[0].s
    t_min = 0.25 + (d_line_to_x + sz_r[0] / 2) / v_r
    t_hi = max(t_min, ctx.t_last - margin_end)
    fps = ctx.spec.fps
    t_c = float(np.clip(rng.uniform(0.45, 0.7) * ctx.t_last, t_min, t_hi))
    t_c = min(np.ceil(t_c * fps - 1e-9) / fps, ctx.t_last)  # contact on a frame
    e_v = float(rng.uniform(-0.15, 0.3)) * sz_v[0]
    st = ctx.sim_times()
    # constant speeds before contact: s(t) = s(t_c) + v (t - t_c); find the exact first touch and move both in
    # time so it falls on the frame t_c (the frame before shows them apart, the frame at t_c touching)
    sr_c = sx_r - (sz_v[1] / 2 + sz_r[0] / 2)
    sv_c = sx_v + e_v

    def touching(t: float) -> bool:
        pr = _poses_on(R_r, np.array([sr_c + v_r * (t - t_c)]))[0]
        pv = _poses_on(R_v, np.array([sv_c + v_v * (t - t_c)]))[0]
        return boxes_overlap(pr, sz_r, pv, sz_v)

    grid = t_c + np.arange(-3.0, 1.0, 0.01)
    hits = [t for t in grid if touching(t)]
    if not hits:
        raise Retry("planned crossing never touches")
    lo, hi = hits[0] - 0.01, hits[0]
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if touching(mid) else (mid, hi)
    shift = t_c - hi  # first touch (just overlapping) exactly at t_c
    s_r = sr_c + v_r * (st - t_c - shift)
    s_v = sv_c + v_v * (st - t_c - shift)
    P_r, P_v = _poses_on(R_r, s_r), _poses_on(R_v, s_v)
    i_c = _first_overlap(st, P_r, sz_r, P_v, sz_v)
    if i_c is None or abs(float(st[i_c]) - t_c) > 1e-9:
        raise Retry("contact not on the planned frame")
    t_contact = float(st[i_c])
    t_cross = float(np.interp(R_r.stops[0].s, s_r + sz_r[0] / 2, st))  # runner front on its stop line
    t_enter_v = float(np.interp(R_v.stops[0].s, s_v + sz_v[0] / 2, st))
    # signals: the victim's group green around the contact, so the runner's is red
    base = lay.signals
    green = next(p.duration for p in base.phases if p.name == f"{g_v}_green")
    into = float(rng.uniform(min(4.0, green - 2.0), green - 1.5))
    ctx.plan = base.with_offset(base.offset_for(f"{g_v}_green", t_contact, into))
    if ctx.plan.state(g_r, t_cross) != "red" or ctx.plan.state(g_v, t_enter_v) != "green":
        raise Retry("signal timing")
    if t_cross < 0.05:
        raise Retry("red light crossed before the window")
    runner_id, victim_id = ctx.new_id(), ctx.new_id()
    kp = KindPlan()
    res: dict = {}
    if not brake:
        P_r, P_v, t_rest = _after_impact(ctx, st, i_c, P_r, P_v, sz_r, sz_v, v_r, v_v)
        res["t_rest"] = t_rest
    else:
        P_v, t_b, t_stop, ttc, gap, t_gap = _hard_brake(ctx, st, R_v, s_v, v_v, P_r, sz_r, sz_v, t_contact)
        res.update(t_b=t_b, t_stop=t_stop, ttc=ttc, gap=gap, t_gap=t_gap)
    light_r = lay.lanes[rlanes[0]].light_id
    if brake:  # connectors are free once the rear has left them
        t_free_r = float(np.interp(R_r.junctions[0][2], s_r - sz_r[0] / 2, st, right=np.inf))
        s_v_final, _ = R_v.path.project(P_v[:, :2])
        t_free_v = float(np.interp(R_v.junctions[0][2], s_v_final - sz_v[0] / 2, st, right=np.inf))
    else:  # the wreck stays in the junction
        t_free_r = t_free_v = np.inf
    runner = VehicleAgent(id=runner_id, type_id=bp_r, category="car", size=tuple(sz_r),
                          color=CAR_COLORS[int(rng.integers(len(CAR_COLORS)))], route=R_r, s=float(s_r[0]), v=v_r,
                          script=P_r, holds=[(rlanes[1], t_cross - 5.0, t_free_r)],
                          attributes={"role": "red_light_runner"})
    victim = VehicleAgent(id=victim_id, type_id=bp_v, category=cls_v, size=tuple(sz_v),
                          color=CAR_COLORS[int(rng.integers(len(CAR_COLORS)))], route=R_v, s=float(s_v[0]), v=v_v,
                          script=P_v, holds=[(vlanes[1], t_enter_v - 5.0, t_free_v)],
                          attributes={"role": "crossing_on_green"})
    kp.vehicles = [runner, victim]
    d_init_r = R_r.stops[0].s - s_r[0]
    d_init_v = R_v.stops[0].s - s_v[0]
    kp.exclusions = {rlanes[0]: d_init_r + 25.0, vlanes[0]: d_init_v + 25.0}
    kp.closed_exits = {rlanes[2], vlanes[2]}
    if not brake:
        kp.allowed_overlaps = [(runner_id, victim_id, t_contact - 1e-6)]

    def finish(sim: Simulation) -> list[Event]:
        ev = [Event("red_light", [runner_id], t_cross, t_contact if not brake else min(
            float(np.interp(R_r.junctions[0][2], s_r - sz_r[0] / 2, st)), ctx.t_last),
            {"light_id": light_r, "state": "red", "stop_line": lay.lanes[rlanes[0]].stop_line.round(3).tolist()})]
        if not brake:
            ev.append(Event("collision", [runner_id, victim_id], t_contact, min(res["t_rest"], ctx.t_last),
                            {"contact_step_time": t_contact, "t_rest": res["t_rest"],
                             "impact_speed": round(float(np.hypot(v_r, v_v)), 3)}))
            t_view = t_contact
        else:
            ev.append(Event("near_miss", [victim_id, runner_id], res["t_b"], min(res["t_stop"], ctx.t_last),
                            {"ttc": res["ttc"], "min_gap": res["gap"], "t_min_gap": res["t_gap"], "decel": 7.5}))
            t_view = min(res["t_gap"], ctx.t_last)
        for e in ev:
            if not (ctx.times[0] <= e.t_start <= e.t_end <= ctx.t_last):
                raise Retry(f"{e.kind} outside the window")
        k = ctx.step_of(t_view)
        for P, sz in ((P_r, sz_r), (P_v, sz_v)):
            if not in_view(np.array([P[k, 0], P[k, 1], sz[2] / 2]), margin=10):
                raise Retry("event actors not in the default camera's view")
        return ev

    kp.finish = finish
    return kp


def _after_impact(ctx, st, i_c, P_r, P_v, sz_r, sz_v, v_r, v_v):
    """Perfectly inelastic impact at step i_c: both move on with the common velocity, decelerating at 7 m/s^2,
    the struck car yawing by the impact's torque. Returns new (T, 3) trajectories and the rest time."""
    rng = ctx.rng
    h_r, h_v = P_r[i_c, 2], P_v[i_c, 2]
    vel_r = v_r * np.array([np.cos(h_r), np.sin(h_r)])
    vel_v = v_v * np.array([np.cos(h_v), np.sin(h_v)])
    m_r, m_v = float(np.prod(sz_r)), float(np.prod(sz_v))
    vc = (m_r * vel_r + m_v * vel_v) / (m_r + m_v)
    speed = float(np.hypot(*vc))
    decel = 7.0
    T = speed / decel
    contact = P_r[i_c, :2] + sz_r[0] / 2 * np.array([np.cos(h_r), np.sin(h_r)])
    r = contact - P_v[i_c, :2]
    torque = r[0] * vel_r[1] - r[1] * vel_r[0]
    w_v = np.sign(torque or 1.0) * np.radians(rng.uniform(30, 55))
    w_r = -np.sign(torque or 1.0) * np.radians(rng.uniform(6, 14))
    tau = np.clip(st[i_c:] - st[i_c], 0, T)
    u = vc / max(speed, 1e-9)
    disp = (speed * tau - 0.5 * decel * tau**2)[:, None] * u
    spin = tau - tau**2 / (2 * max(T, 1e-9))
    P_r, P_v = P_r.copy(), P_v.copy()
    P_r[i_c:, :2] = P_r[i_c, :2] + disp
    P_v[i_c:, :2] = P_v[i_c, :2] + disp
    P_r[i_c:, 2] = h_r + w_r * spin
    P_v[i_c:, 2] = h_v + w_v * spin
    return P_r, P_v, float(st[i_c] + T)


def _hard_brake(ctx, st, R_v, s_v, v_v, P_r, sz_r, sz_v, t_contact):
    """Latest braking (7.5 m/s^2) that stops the crossing car >= 0.8 m short of the runner; it waits, then drives
    on. Returns (trajectory, t_brake, t_stop, ttc at t_brake, minimum gap, time of the minimum gap)."""
    decel = 7.5
    T = v_v / decel
    near = np.flatnonzero(np.abs(st - t_contact) < 3.0)
    for t_b in np.arange(t_contact - 0.5, t_contact - 1.45, -0.05):
        s = s_v.copy()
        i_b = int(np.searchsorted(st, t_b))
        tt = np.clip(st[i_b:] - st[i_b], 0, T)
        s[i_b:] = s_v[i_b] + v_v * tt - 0.5 * decel * tt**2
        P = _poses_on(R_v, s)
        if any(boxes_overlap(P[i], sz_v, P_r[i], sz_r, margin=0.8) for i in near):
            continue
        # wait until the runner is 4 m clear (and at least 1 s), then pull away at 2 m/s^2
        i_stop = i_b + int(np.ceil(T / ctx.dt))
        i_go = next((i for i in range(i_stop + int(1.0 / ctx.dt), len(st))
                     if not boxes_overlap(P[i], sz_v, P_r[i], sz_r, margin=4.0)), len(st))
        if i_go < len(st):
            tg = st[i_go:] - st[i_go]
            s[i_go:] = s[i_go] + np.where(2.0 * tg < v_v, tg**2, v_v**2 / 4.0 + v_v * (tg - v_v / 2.0))
        P = _poses_on(R_v, s)
        gaps = np.array([_rect_gap(P[i], sz_v, P_r[i], sz_r) for i in near])
        if gaps.min() < 0.5:
            continue
        t_min_gap = float(st[near[int(np.argmin(gaps))]])
        ttc = float(t_contact - st[i_b])
        return P, float(st[i_b]), float(st[i_b] + T), round(ttc, 3), round(float(gaps.min()), 3), t_min_gap
    raise Retry("no braking point leaves a gap")


def plan_collision(ctx: AttemptContext) -> KindPlan:
    return _red_light_pair(ctx, brake=False)


def plan_near_miss(ctx: AttemptContext) -> KindPlan:
    return _red_light_pair(ctx, brake=True)


def _arms_in_view(ctx: AttemptContext, d: float = 32.0) -> list[str]:
    """Arms whose exit lanes, `d` metres from the centre, are well inside the default camera's image."""
    lay = ctx.layout
    out = []
    for arm in lay.info["arms"]:
        u = _ARM_U[arm]
        lanes = [l for l in lay.lanes_of("exit") if l.arm == arm]
        pts = [u * d + (l.path.start - u * float(np.dot(l.path.start, u))) for l in lanes]
        if all(in_view(np.array([p[0], p[1], 0.8]), margin=40) for p in pts):
            out.append(arm)
    return out


def plan_wrong_way(ctx: AttemptContext) -> KindPlan:
    rng, lay = ctx.rng, ctx.layout
    arms = _arms_in_view(ctx)
    if not arms:
        raise ValueError(f"layout {lay.name!r}: no arm in view of the default camera for a wrong-way driver")
    arm = arms[int(rng.integers(len(arms)))]
    lanes = [l for l in lay.lanes_of("exit") if l.arm == arm]
    lane = lanes[int(rng.integers(len(lanes)))]
    v = float(rng.uniform(7.0, 9.5))
    horizon = -ctx.t0 + ctx.t_last
    route = make_route(lay, [lane.id], before=v * horizon + 40.0, reverse=True)
    d_at_0 = float(rng.uniform(38.0, 52.0))  # distance from the junction centre (along the arm) at t = 0
    d_lane_start = float(np.dot(lane.path.start, _ARM_U[arm]))  # the lane runs from here outward; the reversed
    s_at_0 = route.length - (d_at_0 - d_lane_start)  # route ends at the lane start
    s_init = s_at_0 - v * (-ctx.t0)
    bp = pick_blueprint(rng, "car")
    agent = new_vehicle(ctx, "car", route, s=s_init, v=v, bp=bp, ignore_signals=True)
    agent.speed_factor = v / lane.speed_limit
    agent.attributes = {"role": "wrong_way", "lane_id": lane.id}
    agent.stop_at = route.length - 0.5 - agent.length / 2
    kp = KindPlan(vehicles=[agent], closed_exits={lane.id})

    def finish(sim: Simulation) -> list[Event]:
        j = sim.vehicles.index(agent)
        k0 = ctx.step_of(0.0)
        pos = sim.veh_pose[k0::ctx.m, j]
        inside = lay.in_bounds(pos[:, 0], pos[:, 1], margin=1.0)
        if not inside.any():
            raise Retry("wrong-way car never inside the map")
        ks = np.flatnonzero(inside)
        t_s, t_e = float(ctx.times[ks[0]]), float(ctx.times[ks[-1]])
        kmid = ks[len(ks) // 2]
        if not in_view(np.array([pos[kmid, 0], pos[kmid, 1], agent.size[2] / 2]), margin=10):
            raise Retry("wrong-way car not in view")
        return [Event("wrong_way", [agent.id], t_s, t_e, {"lane_id": lane.id, "arm": arm})]

    kp.finish = finish
    return kp


def plan_jaywalking(ctx: AttemptContext) -> KindPlan:
    rng, lay = ctx.rng, ctx.layout
    arms = _arms_in_view(ctx, d=30.0)
    if not arms:
        raise ValueError(f"layout {lay.name!r}: no arm in view of the default camera for a jaywalker")
    arm = arms[int(rng.integers(len(arms)))]
    u = _ARM_U[arm]
    lat = np.array([-u[1], u[0]])
    hw = lay.info["half_width"]["ew" if arm in "EW" else "ns"]
    p_side = hw + lay.info["sidewalk"] / 2
    side = float(rng.choice([-1.0, 1.0]))
    d_j = float(rng.uniform(22.0, 30.0))
    toward = float(rng.choice([-1.0, 1.0]))  # walking along the sidewalk toward (-1) or away from (+1) the centre
    speed = float(rng.uniform(1.3, 1.7))
    t_go = float(rng.uniform(0.05, 0.25)) * ctx.t_last
    pre = speed * (t_go - ctx.t0) + 2.0
    post = speed * ctx.t_last + 6.0
    at = lambda d, l: u * d + lat * l  # noqa: E731
    pts = np.array([at(d_j - toward * pre, side * p_side), at(d_j, side * p_side), at(d_j, -side * p_side),
                    at(d_j + toward * post, -side * p_side)])
    path = Polyline(pts)
    s1 = float(path.s[1])
    s_wait = s1 + (p_side - hw - 0.4)
    s_end = s1 + (p_side + hw + 0.4)
    wait = CrossingWait(s=s_wait, s_end=s_end, crosswalk=-1, length=s_end - s_wait)
    s_init = max(0.0, s_wait - speed * (t_go - ctx.t0))
    w = new_walker(ctx, path, [wait], s_init, speed, jaywalker=True, not_before=t_go)
    w.attributes = {"role": "jaywalker"}
    kp = KindPlan(walkers=[w])
    base = lay.signals
    if base is not None:
        g = "ew" if arm in "EW" else "ns"
        green = next(p.duration for p in base.phases if p.name == f"{g}_green")
        ctx.plan = base.with_offset(base.offset_for(f"{g}_green", t_go, float(rng.uniform(1.0, green - 2.0))))

    def finish(sim: Simulation) -> list[Event]:
        j = sim.walkers.index(w)
        st = ctx.sim_times()
        pos = sim.walk_pose[:, j, :2]
        tags, _ = lay.ground.lookup(pos[:, 0], pos[:, 1])
        on_road = np.isin(tags, (TAG["road"], TAG["road_line"]))
        # away from the zebra crossings
        for c in lay.crosswalks:
            lo, hi = c.polygon.min(0) - 1.0, c.polygon.max(0) + 1.0
            on_road &= ~np.all((pos >= lo) & (pos <= hi), axis=1)
        idx = np.flatnonzero(on_road & (st >= 0.0) & (st <= ctx.t_last + 1e-9))
        if len(idx) == 0 or st[idx[0]] > ctx.t_last - 0.3 or st[idx[0]] < 0.05:
            raise Retry("jaywalker did not step onto the road inside the window")
        t_s = float(st[idx[0]])
        ends = np.flatnonzero(~on_road[idx[0]:])
        t_e = float(st[idx[0] + ends[0] - 1]) if len(ends) else ctx.t_last
        t_e = min(t_e, ctx.t_last)
        k = idx[0]
        if not in_view(np.array([pos[k, 0], pos[k, 1], 0.9]), margin=10):
            raise Retry("jaywalker not in view")
        return [Event("jaywalking", [w.id], t_s, t_e, {"arm": arm, "distance_from_centre": round(d_j, 2)})]

    kp.finish = finish
    return kp
