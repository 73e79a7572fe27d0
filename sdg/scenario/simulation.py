"""The built-in traffic simulation: vehicles follow routes with the Intelligent Driver Model (IDM), braking for
whatever occupies their path ahead (other vehicles, pedestrians, crashed cars), stop at red/yellow signals, and
enter junction connectors only with a reservation (no conflicting connector held, no higher-priority vehicle about
to arrive, room behind the vehicle ahead). Pedestrians walk their paths and step onto a crossing only during the
walk phase with enough time left and no vehicle on it. Scripted actors follow precomputed trajectories and hold
reservations over declared intervals, so the traffic around a scripted event behaves.

Fixed step dt; all times in seconds, distances metres, speeds m/s. Every step records each actor's pose
(x, y, heading radians) so the scene can be sampled at the frame times.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sdg.scenario.layout_model import Layout
from sdg.scenario.polyline import point_rect_distance
from sdg.scenario.routes import DS, Route
from sdg.scenario.signals import SignalPlan
from sdg.scenario.walkers import WalkerAgent
from sdg.tags import TAG

LOOK_POINTS = 110  # route points examined ahead of each vehicle (x DS = 55 m)
MARGIN = 0.45  # lateral clearance (m) a vehicle keeps to anything in its path
PED_MARGIN = 0.9
ROAD_TAGS = (TAG["road"], TAG["road_line"])
WALKER_LOOKAHEAD = 2.0  # seconds of a crossing pedestrian's walk that vehicles keep clear of
JAYWALK_BRAKE = 5.0  # m/s^2: a jaywalker steps out when every approaching vehicle can stop with this braking
B_MAX = 8.0  # m/s^2 hardest braking


@dataclass
class VehicleAgent:
    id: int
    type_id: str
    category: str
    size: tuple[float, float, float]  # length, width, height
    color: tuple[int, int, int]
    route: Route
    s: float  # route arc length of the vehicle centre
    v: float
    speed_factor: float = 1.0  # desired speed / speed cap
    a_max: float = 1.8
    b_comf: float = 3.0
    headway: float = 1.3
    s0: float = 2.0
    ignore_signals: bool = False
    stop_at: float | None = None  # route arc length where the centre must come to rest (a planned stop)
    # scripted trajectory: (steps, 3) x, y, heading per simulation step; overrides the route when set
    script: np.ndarray | None = None
    holds: list[tuple[int, float, float]] = field(default_factory=list)  # (junction lane, t0, t1) for scripted
    reserved: set[int] = field(default_factory=set)
    committed: set[int] = field(default_factory=set)  # stop indices this vehicle decided to pass on yellow
    attributes: dict = field(default_factory=dict)

    @property
    def length(self) -> float:
        return self.size[0]

    @property
    def width(self) -> float:
        return self.size[1]


class Simulation:
    """Runs vehicles and walkers on a layout from t0 for n steps of dt; `run()` returns per-step poses."""

    def __init__(self, layout: Layout, plan: SignalPlan | None, t0: float, dt: float, steps: int,
                 vehicles: list[VehicleAgent], walkers: list[WalkerAgent], times: np.ndarray | None = None):
        self.layout, self.plan, self.t0, self.dt, self.steps = layout, plan, t0, dt, steps
        self.vehicles, self.walkers = vehicles, walkers
        self.times = t0 + np.arange(steps) * dt if times is None else np.asarray(times, dtype=np.float64)
        ids = [v.id for v in vehicles] + [w.id for w in walkers]
        if len(set(ids)) != len(ids):
            raise ValueError("actor ids must be unique")
        n = len(vehicles)
        self.veh_pose = np.zeros((steps, n, 3))
        self.veh_speed = np.zeros((steps, n))
        self.walk_pose = np.zeros((steps, len(walkers), 3))
        self.walk_speed = np.zeros((steps, len(walkers)))
        self.crossing_log: dict[int, list[tuple[float, float]]] = {}  # walker id -> (t_start, t_end) on crossings
        self.stop_cross: dict[int, list[tuple[float, int, str]]] = {}  # vehicle id -> (t, light id, state)
        # padded route points for the vectorised path check
        self._m = max(len(v.route.ps) for v in vehicles) if vehicles else 1
        self._pts = np.full((n, self._m, 2), 1e6)
        self._vmax = np.full((n, self._m), 1.0)
        self._heads = np.zeros((n, self._m))
        for i, v in enumerate(vehicles):
            k = len(v.route.ps)
            self._pts[i, :k] = v.route.pts
            self._vmax[i, :k] = v.route.vmax
            self._heads[i, :k] = v.route.path.heading_at(v.route.ps)
            self._vmax[i, k:] = v.route.vmax[-1]
        self._len = np.array([len(v.route.ps) for v in vehicles], dtype=np.int64)

    # ------------------------------------------------------------------------------------------------ helpers
    def time(self, i: int) -> float:
        return float(self.times[i])

    def light_state(self, light_id: int | None, t: float) -> str:
        if light_id is None or self.plan is None:
            return "green"
        group = self._groups.get(light_id, "")
        return self.plan.state(group, t)

    def _held_by_others(self, lane_id: int, me: int, t: float) -> bool:
        for v in self.vehicles:
            if v.id == me:
                continue
            if lane_id in v.reserved:
                return True
            for lid, h0, h1 in v.holds:
                if lid == lane_id and h0 <= t <= h1:
                    return True
        return False

    # ------------------------------------------------------------------------------------------------ main loop
    def run(self) -> "Simulation":
        self._groups = {s.id: s.group for s in self.layout.static_specs if s.category == "traffic_light"}
        for i in range(self.steps):
            t = self.time(i)
            self._record(i)
            if i + 1 < self.steps:
                self._step(i, t)
        return self

    def _vehicle_state(self, i: int):
        """Current centres (n, 2), headings (n,), velocity vectors (n, 2)."""
        n = len(self.vehicles)
        c = np.zeros((n, 2))
        h = np.zeros(n)
        vel = np.zeros((n, 2))
        for j, v in enumerate(self.vehicles):
            if v.script is not None:
                c[j], h[j] = v.script[i, :2], v.script[i, 2]
                if i + 1 < len(v.script):
                    vel[j] = (v.script[i + 1, :2] - v.script[i, :2]) / self.dt
            else:
                p, hh = v.route.pose(np.array([v.s]))
                c[j], h[j] = p[0], hh[0]
                vel[j] = v.v * np.array([np.cos(h[j]), np.sin(h[j])])
        return c, h, vel

    def _record(self, i: int) -> None:
        c, h, vel = self._vehicle_state(i)
        self.veh_pose[i, :, :2], self.veh_pose[i, :, 2] = c, h
        self.veh_speed[i] = np.hypot(vel[:, 0], vel[:, 1])
        for j, w in enumerate(self.walkers):
            p, hh = w.pose()
            self.walk_pose[i, j] = (p[0], p[1], hh)
            self.walk_speed[i, j] = w.v

    def _obstacles(self, i: int):
        """For every vehicle: (gap to the first thing in its path (m, conservative), that thing's speed along
        the path (m/s)); gap = inf when the path ahead is clear."""
        n = len(self.vehicles)
        c, h, vel = self._vehicle_state(i)
        wp = [w.pose() for w in self.walkers]
        wpos = np.array([p for p, _ in wp]).reshape(-1, 2)
        wvel = np.array([w.v * np.array([np.cos(hh), np.sin(hh)])
                         for w, (_, hh) in zip(self.walkers, wp)]).reshape(-1, 2)
        whead = np.array([hh for _, hh in wp]).reshape(-1)
        wspeed = np.array([w.v for w in self.walkers]).reshape(-1)
        if len(wpos):  # only pedestrians on the carriageway are in a vehicle's way
            tags, _ = self.layout.ground.lookup(wpos[:, 0], wpos[:, 1])
            on_road = np.isin(tags, ROAD_TAGS)
            wpos, wvel, whead, wspeed = wpos[on_road], wvel[on_road], whead[on_road], wspeed[on_road]
        # a walker occupies the strip it will cover in the next WALKER_LOOKAHEAD seconds
        reach = wspeed * WALKER_LOOKAHEAD
        wctr = wpos + (reach / 2)[:, None] * np.stack([np.cos(whead), np.sin(whead)], axis=1)
        centers = np.concatenate([c, wctr])
        heads = np.concatenate([h, whead])
        hl = np.concatenate([[v.length / 2 for v in self.vehicles], 0.3 + reach / 2])
        hw = np.concatenate([[v.width / 2 for v in self.vehicles], np.full(len(wpos), 0.3)])
        vels = np.concatenate([vel, wvel])
        is_ped = np.concatenate([np.zeros(n, bool), np.ones(len(wpos), bool)])
        s_now = np.array([v.s for v in self.vehicles])
        front = s_now + np.array([v.length / 2 for v in self.vehicles])
        j0 = np.floor(front / DS).astype(np.int64) + 1
        idx = j0[:, None] + np.arange(LOOK_POINTS)[None, :]
        valid = idx < self._len[:, None]
        idx = np.minimum(idx, self._m - 1)
        pts = np.take_along_axis(self._pts, idx[..., None], axis=1)  # (n, P, 2)
        d = point_rect_distance(pts, centers, heads, hl, hw)  # (n, P, K)
        thr = np.array([v.width / 2 for v in self.vehicles])[:, None, None] + np.where(is_ped, PED_MARGIN, MARGIN)[
            None, None, :]
        hit = (d < thr) & valid[..., None]
        hit[np.arange(n), :, np.arange(n)] = False
        any_hit = hit.any(axis=1)  # (n, K)
        first = np.argmax(hit, axis=1)  # (n, K) first point index hit
        s_pts = idx * DS
        s_first = np.take_along_axis(s_pts, first, axis=1)
        gaps = np.where(any_hit, s_first - DS - front[:, None], np.inf)
        k = np.argmin(gaps, axis=1)
        gap = gaps[np.arange(n), k]
        # speed of the obstacle along my path direction at the hit point
        hp = np.take_along_axis(np.take_along_axis(self._heads, idx, axis=1), first, axis=1)[np.arange(n), k]
        ov = vels[k]
        v_lead = ov[:, 0] * np.cos(hp) + ov[:, 1] * np.sin(hp)
        # desired speed from the speed caps ahead (brake in time for curves)
        vm = np.take_along_axis(self._vmax, idx, axis=1)
        dist = np.maximum(s_pts - front[:, None], 0.0)
        b = np.array([v.b_comf for v in self.vehicles])[:, None] * 0.7
        v_cap = np.where(valid, np.sqrt(vm**2 + 2 * b * dist), np.inf).min(axis=1)
        cur = np.minimum(np.floor(s_now / DS).astype(np.int64), self._len - 1)
        v_cap = np.minimum(v_cap, self._vmax[np.arange(n), np.clip(cur, 0, self._m - 1)])
        return gap, np.maximum(v_lead, 0.0), v_cap, k, c

    def _step(self, i: int, t: float) -> None:
        dt = self.dt
        n = len(self.vehicles)
        if n:
            gap, v_lead, v_cap, lead_k, centers = self._obstacles(i)
        for j, veh in enumerate(self.vehicles):
            if veh.script is not None:
                continue
            front = veh.s + veh.length / 2
            obstacles = []  # (idm gap, lead speed, hard clamp distance)
            if np.isfinite(gap[j]):
                obstacles.append((gap[j], v_lead[j], gap[j] - 0.1))
            stop = self._signal_and_reservation(veh, j, t, front, gap[j], v_lead[j])
            if stop is not None:
                obstacles.append((stop + 1.5, 0.0, stop))
            if veh.stop_at is not None:
                d = veh.stop_at - veh.s
                obstacles.append((d + veh.s0, 0.0, d))
            v0 = max(0.5, v_cap[j] * veh.speed_factor)
            a = veh.a_max * (1.0 - (veh.v / v0) ** 4)
            acc = [a]
            for g, vl, _ in obstacles:
                s_star = veh.s0 + max(0.0, veh.v * veh.headway
                                      + veh.v * (veh.v - vl) / (2 * np.sqrt(veh.a_max * veh.b_comf)))
                acc.append(a - veh.a_max * (s_star / max(g, 0.1)) ** 2)
            a = float(np.clip(min(acc), -B_MAX, veh.a_max))
            v_new = veh.v + a * dt
            if v_new < 0:
                ds = veh.v * veh.v / (2 * -a) if a < 0 else 0.0
                v_new = 0.0
            else:
                ds = 0.5 * (veh.v + v_new) * dt
            clamp = min([c for _, _, c in obstacles], default=np.inf)
            if ds > max(clamp, 0.0):
                ds = max(clamp, 0.0)
                v_new = min(v_new, ds / dt)
            old_front = front
            veh.s += ds
            veh.v = v_new
            for k, sp in enumerate(veh.route.stops):  # log stop-line crossings with the light state
                if old_front < sp.s <= veh.s + veh.length / 2:
                    self.stop_cross.setdefault(veh.id, []).append(
                        (t + dt, sp.light_id, self.light_state(sp.light_id, t + dt)))
            # release reservations of connectors the rear has left
            rear = veh.s - veh.length / 2
            for lid, s0, s1 in veh.route.junctions:
                if lid in veh.reserved and rear > s1:
                    veh.reserved.discard(lid)
        self._step_walkers(i, t, centers if n else np.zeros((0, 2)))

    def _signal_and_reservation(self, veh: VehicleAgent, j: int, t: float, front: float, lead_gap: float,
                                lead_v: float) -> float | None:
        """Distance from the front bumper to where the vehicle must stop (None: may go on)."""
        for k, sp in enumerate(veh.route.stops):
            d = sp.s - front
            if d < 0:
                continue  # already past this line
            if d > 70:
                return None
            state = "green" if veh.ignore_signals else self.light_state(sp.light_id, t)
            can_stop = d >= veh.v**2 / (2 * veh.b_comf) - 0.5
            if state == "red" and k not in veh.committed:
                veh.reserved.discard(sp.junction)
                return d
            if state == "yellow" and k not in veh.committed:
                if can_stop:
                    veh.reserved.discard(sp.junction)
                    return d
                veh.committed.add(k)
            if sp.junction in veh.reserved:
                return None
            d_req = veh.v**2 / (2 * veh.b_comf) + 8.0
            if d > d_req:
                return None  # not asking yet; from d_req the vehicle can still stop comfortably
            if self._try_reserve(veh, sp, t, d, lead_gap, lead_v):
                veh.reserved.add(sp.junction)
                return None
            return d
        return None

    def _try_reserve(self, veh: VehicleAgent, sp, t: float, d: float, lead_gap: float, lead_v: float) -> bool:
        lanes = self.layout.lanes
        jl = lanes[sp.junction]
        for c in jl.conflicts:
            if self._held_by_others(c, veh.id, t):
                return False
        # yield to higher-priority vehicles about to arrive on conflicting connectors
        if jl.priority < 2:
            for other in self.vehicles:
                if other.id == veh.id or other.script is not None:
                    continue
                for k, osp in enumerate(other.route.stops):
                    od = osp.s - (other.s + other.length / 2)
                    if od < 0 or osp.junction not in jl.conflicts:
                        continue
                    if lanes[osp.junction].priority <= jl.priority:
                        break
                    if self.light_state(osp.light_id, t) == "red" and k not in other.committed:
                        break
                    if od / max(other.v, 1.0) < 5.0:
                        return False
                    break
        # do not block the box: the vehicle ahead must leave room beyond the connector
        j_end = next(s1 for lid, s0, s1 in veh.route.junctions if lid == sp.junction)
        need = (j_end - sp.s) + veh.length + 2.0
        if np.isfinite(lead_gap) and lead_gap < d + need and lead_v < 2.0:
            return False
        return True

    # ------------------------------------------------------------------------------------------------ walkers
    def _step_walkers(self, i: int, t: float, vehicle_centers: np.ndarray) -> None:
        dt = self.dt
        for w in self.walkers:
            wait = w.next_wait()
            target_v = w.speed
            limit = np.inf
            if w.crossing >= 0:
                cw = w.waits[w.crossing]
                target_v = w.speed * (1.25 if w.jaywalker else 1.15)
                if w.s >= cw.s_end:
                    log = self.crossing_log.setdefault(w.id, [])
                    log[-1] = (log[-1][0], t)
                    w.crossing = -1
            if w.crossing < 0 and wait is not None and w.s <= wait.s + 1e-6:
                dist = wait.s - w.s
                if dist < 0.05 + w.speed * dt:
                    if self._may_cross(w, wait, t, vehicle_centers):
                        w.crossing = w.waits.index(wait)
                        self.crossing_log.setdefault(w.id, []).append((t, np.inf))
                        target_v = w.speed * (1.25 if w.jaywalker else 1.15)
                    else:
                        limit = dist
            ds = min(target_v * dt, limit)
            w.v = ds / dt
            w.s = min(w.s + ds, w.path.length)

    def _may_cross(self, w: WalkerAgent, wait, t: float, vehicle_centers: np.ndarray) -> bool:
        if wait.crosswalk >= 0:
            cw = self.layout.crosswalks[wait.crosswalk]
            if cw.signalised and self.plan is not None:
                if not self.plan.walk(t):
                    return False
                left = self.plan.time_left_in_phase(t)
                nxt = self.plan.phases[(self.plan.phase_index(t) + 1) % len(self.plan.phases)]
                if not nxt.walk and not nxt.green and not nxt.yellow:
                    left += nxt.duration
                if left < wait.length / (w.speed * 1.15) + 0.5:
                    return False
            poly = cw.polygon
            lo, hi = poly.min(axis=0) - 1.5, poly.max(axis=0) + 1.5
            for v, c in zip(self.vehicles, vehicle_centers):
                if np.all(c >= lo) and np.all(c <= hi):
                    return False
            return True
        # jaywalking: not before its time, and only when every vehicle heading for the crossing line could still
        # stop before it (braking <= JAYWALK_BRAKE), and none is standing on it
        if t < w.not_before:
            return False
        a = w.path.point_at(np.array([wait.s]))[0]
        b = w.path.point_at(np.array([wait.s_end]))[0]
        for v in self.vehicles:
            if v.script is not None:
                continue
            s_line = self._line_on_route(v, a, b)
            if s_line is None:
                continue
            front = v.s + v.length / 2
            d = s_line - front
            if -(v.length + 1.5) < d < v.v**2 / (2 * JAYWALK_BRAKE) + 4.0:
                return False
        return True

    def _line_on_route(self, v: VehicleAgent, a: np.ndarray, b: np.ndarray) -> float | None:
        """Route arc length where vehicle v's path crosses segment a-b (cached), or None."""
        key = (v.id, tuple(np.round(a, 3)), tuple(np.round(b, 3)))
        cache = self.__dict__.setdefault("_line_cache", {})
        if key not in cache:
            p, q = v.route.pts[:-1], v.route.pts[1:]
            r = q - p
            ab = b - a
            den = r[:, 0] * ab[1] - r[:, 1] * ab[0]
            ok = np.abs(den) > 1e-12
            ap = a - p
            t = np.where(ok, (ap[:, 0] * ab[1] - ap[:, 1] * ab[0]) / np.where(ok, den, 1), -1)
            u = np.where(ok, (ap[:, 0] * r[:, 1] - ap[:, 1] * r[:, 0]) / np.where(ok, den, 1), -1)
            hit = np.flatnonzero(ok & (t >= 0) & (t <= 1) & (u >= -0.05) & (u <= 1.05))
            cache[key] = float(v.route.ps[hit[0]] + t[hit[0]] * DS) if len(hit) else None
        return cache[key]
