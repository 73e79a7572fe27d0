"""Event detectors from motion: collisions, near misses, hard negatives, wrong-way driving, red-light running and
jaywalking, computed from the actors' trajectories in a Scene (no images needed).

Conventions: world metres and seconds; an actor's ground footprint is its 3D box projected on the ground plane (box
centre x, y; length along its yaw heading, width across; roll and pitch ignored). Velocities come from the poses
(Actor.velocities). Pair detectors (collision, near_miss, hard_negative) consider pairs with at least one vehicle
(sdg.tags.VEHICLE_CATEGORIES) whose other member is a vehicle or a pedestrian, and of which at least one moves
faster than `min_speed` at some time. Each detector returns scene.Event records; `actor_ids` are sorted for pair
events (collision, near_miss, hard_negative), [vehicle, traffic light] for red_light, [actor] otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sdg.groundtruth.planar import contact_interval, footprints, gap, segment_crossings
from sdg.scene import Actor, Event, Scene
from sdg.tags import TAG, VEHICLE_CATEGORIES

LaneDirectionFn = Callable[[float, float], "np.ndarray | Sequence[float] | None"]
StopLine = tuple[np.ndarray, int]  # (polyline (N, 2|3) world metres, id of the traffic-light actor governing it)

ROAD_TAGS = (TAG["road"], TAG["road_line"])
CROSSWALK_TAG = TAG["road_line"]  # zebra stripes are road_line paint on the road
_EPS_T = 1e-9


@dataclass
class Track:
    """An actor's ground-plane motion: xy (T, 2) box centre, yaw (T,) deg, vel (T, 2) m/s, speed (T,) m/s."""

    actor: Actor
    xy: np.ndarray
    yaw: np.ndarray
    vel: np.ndarray
    speed: np.ndarray

    @property
    def heading(self) -> np.ndarray:
        y = np.radians(self.yaw)
        return np.stack([np.cos(y), np.sin(y)], axis=1)

    def rects(self) -> np.ndarray:
        return footprints(self.xy, self.actor.size[0], self.actor.size[1], self.yaw)


def make_track(scene: Scene, actor: Actor) -> Track:
    if len(actor.poses) != len(scene.times):
        raise ValueError(f"scene {scene.name!r}: actor {actor.id} has {len(actor.poses)} poses for "
                         f"{len(scene.times)} scene frames")
    xy = actor.box_centers()[:, :2]
    vel = actor.velocities(scene.times)[:, :2]
    return Track(actor, xy, actor.poses[:, 5].astype(np.float64), vel, np.linalg.norm(vel, axis=1))


@dataclass
class PairHistory:
    """Per-frame relation of two tracks a, b (a.actor.id < b.actor.id): overlap (T,) bool, ttc (T,) s to first
    contact under constant velocity (0 while overlapping, inf never), gap (T,) m between footprints."""

    a: Track
    b: Track
    overlap: np.ndarray
    ttc: np.ndarray
    gap: np.ndarray

    @property
    def ids(self) -> list[int]:
        return [int(self.a.actor.id), int(self.b.actor.id)]


def pair_histories(scene: Scene, *, horizon: float = 1.5, reach: float = 1.0,
                   min_speed: float = 0.5) -> list[PairHistory]:
    """Histories of every eligible pair (see module docstring) that comes within `reach` metres of each other, or
    could touch within `horizon` seconds at their speeds, at some frame (a bounding-circle broad phase)."""
    tracks = [make_track(scene, a) for a in scene.actors if a.category in VEHICLE_CATEGORIES + ("pedestrian",)]
    n = len(tracks)
    if n < 2 or len(scene.times) == 0:
        return []
    xy = np.stack([t.xy for t in tracks], axis=1)  # (T, N, 2)
    speed = np.stack([t.speed for t in tracks], axis=1)  # (T, N)
    radius = np.array([0.5 * float(np.hypot(t.actor.size[0], t.actor.size[1])) for t in tracks])
    is_vehicle = np.array([t.actor.category in VEHICLE_CATEGORIES for t in tracks])
    moves = speed.max(axis=0) > min_speed
    near = np.zeros((n, n), dtype=bool)
    for k in range(len(scene.times)):
        d = np.linalg.norm(xy[k, :, None, :] - xy[k, None, :, :], axis=-1)
        slack = d - radius[:, None] - radius[None, :] - (speed[k, :, None] + speed[k, None, :]) * horizon
        near |= slack <= reach
    eligible = near & (is_vehicle[:, None] | is_vehicle[None, :]) & (moves[:, None] | moves[None, :])
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(eligible, 1))):
        pairs.append((i, j) if tracks[i].actor.id < tracks[j].actor.id else (j, i))
    pairs.sort(key=lambda p: (tracks[p[0]].actor.id, tracks[p[1]].actor.id))
    if not pairs:
        return []
    rects = np.stack([t.rects() for t in tracks])  # (N, T, 4, 2)
    vel = np.stack([t.vel for t in tracks])  # (N, T, 2)
    out = []
    chunk = 64  # pairs per vectorised batch (bounds the (P, T, 4, 4, 2) temporaries of gap())
    for c in range(0, len(pairs), chunk):
        ia = np.array([p[0] for p in pairs[c : c + chunk]])
        ib = np.array([p[1] for p in pairs[c : c + chunk]])
        ra, rb = rects[ia], rects[ib]
        enter, leave = contact_interval(ra, rb, vel[ib] - vel[ia])
        overlap = (enter <= 0) & (leave >= 0)
        ttc = np.where((enter <= leave) & (leave >= 0), np.maximum(enter, 0.0), np.inf)
        gaps = gap(ra, rb)
        for n, (i, j) in enumerate(pairs[c : c + chunk]):
            out.append(PairHistory(tracks[i], tracks[j], overlap[n], ttc[n], gaps[n]))
    return out


def detect_collisions(scene: Scene, histories: list[PairHistory] | None = None) -> list[Event]:
    """Footprints overlapping (touching counts). t_start = first contact: the previous frame's time-to-contact
    interpolates it when contact happens within one frame interval, else the first overlapping frame's time;
    t_end = last overlapping frame. One event per pair."""
    histories = pair_histories(scene) if histories is None else histories
    times = scene.times
    events = []
    for h in histories:
        frames = np.flatnonzero(h.overlap)
        if frames.size == 0:
            continue
        k0 = int(frames[0])
        t0 = float(times[k0])
        if k0 > 0 and h.ttc[k0 - 1] <= times[k0] - times[k0 - 1] + _EPS_T:
            t0 = float(times[k0 - 1] + h.ttc[k0 - 1])
        kv = max(k0 - 1, 0)
        rel = float(np.linalg.norm(h.b.vel[kv] - h.a.vel[kv]))
        events.append(Event("collision", h.ids, t0, float(times[frames[-1]]),
                            {"relative_speed": rel, "contact_frames": int(frames.size)}))
    return events


def detect_near_misses(scene: Scene, *, ttc_threshold: float = 1.5,
                       histories: list[PairHistory] | None = None) -> list[Event]:
    """Pairs that never touch but whose time-to-contact under constant velocity drops below `ttc_threshold` s.
    Span: first to last frame with ttc below the threshold. details: min_ttc (s), min_gap (m)."""
    histories = pair_histories(scene, horizon=ttc_threshold) if histories is None else histories
    events = []
    for h in histories:
        if h.overlap.any():
            continue
        frames = np.flatnonzero(h.ttc < ttc_threshold)
        if frames.size == 0:
            continue
        events.append(Event("near_miss", h.ids, float(scene.times[frames[0]]), float(scene.times[frames[-1]]),
                            {"min_ttc": float(h.ttc.min()), "min_gap": float(h.gap.min())}))
    return events


def detect_hard_negatives(scene: Scene, *, distance: float = 1.0, min_speed: float = 0.5,
                          histories: list[PairHistory] | None = None) -> list[Event]:
    """Close pairs that did NOT collide: footprints closer than `distance` m while at least one of the two moves
    faster than `min_speed` m/s. Span: first to last such frame. details: min_distance (m), t_min (s)."""
    histories = pair_histories(scene, reach=distance, min_speed=min_speed) if histories is None else histories
    events = []
    for h in histories:
        if h.overlap.any():
            continue
        close = (h.gap < distance) & (np.maximum(h.a.speed, h.b.speed) > min_speed)
        frames = np.flatnonzero(close)
        if frames.size == 0:
            continue
        kmin = int(frames[np.argmin(h.gap[frames])])
        events.append(Event("hard_negative", h.ids, float(scene.times[frames[0]]), float(scene.times[frames[-1]]),
                            {"min_distance": float(h.gap[kmin]), "t_min": float(scene.times[kmin])}))
    return events


def _runs(state: np.ndarray) -> list[tuple[int, int]]:
    """Runs of +1 frames (first, last) that may bridge 0 (unknown) frames but end at -1 frames."""
    runs, start, last = [], None, None
    for k, s in enumerate(state):
        if s > 0:
            if start is None:
                start = k
            last = k
        elif s < 0 and start is not None:
            runs.append((start, last))
            start = None
    if start is not None:
        runs.append((start, last))
    return runs


def detect_wrong_way(scene: Scene, lane_direction_fn: LaneDirectionFn, *, angle_threshold: float = 120.0,
                     min_speed: float = 1.0, min_duration: float = 0.5) -> list[Event]:
    """Vehicles driving forward (velocity along the heading, faster than `min_speed` m/s) with a heading more than
    `angle_threshold` degrees from the lane direction `lane_direction_fn(x, y)` (a 2-vector, or None off lanes) for
    at least `min_duration` s. Frames off lanes or standing still neither start nor break a run. details: angle
    (mean degrees between heading and lane over the frames evaluated).

    Cost: lane look-ups can be slow (a lane-graph query each), so the moving frames of a vehicle are classified on a
    stride of about min_duration / 2 and every frame between two samples that disagree is classified too; a
    class change shorter than the stride between two agreeing samples can be missed (never a whole run)."""
    events = []
    times = scene.times
    stride = max(1, int(min_duration * scene.fps / 2.0)) if len(times) > 1 else 1
    for a in scene.actors:
        if a.category not in VEHICLE_CATEGORIES:
            continue
        tr = make_track(scene, a)
        heading = tr.heading
        state = np.zeros(len(times), dtype=np.int8)
        angles = np.full(len(times), np.nan)

        def classify(k: int) -> int:
            lane = lane_direction_fn(float(tr.xy[k, 0]), float(tr.xy[k, 1]))
            if lane is None:
                return 0
            lane = np.asarray(lane, dtype=np.float64).reshape(-1)[:2]
            norm = np.linalg.norm(lane)
            if norm == 0:
                return 0
            angles[k] = np.degrees(np.arccos(np.clip(np.dot(heading[k], lane / norm), -1.0, 1.0)))
            return 1 if angles[k] > angle_threshold else -1

        moving = np.flatnonzero((tr.speed > min_speed) & (np.einsum("kd,kd->k", tr.vel, heading) > 0))
        if moving.size == 0:
            continue
        samples = sorted(set(range(0, moving.size, stride)) | {moving.size - 1})
        for i in samples:
            state[moving[i]] = classify(int(moving[i]))
        for i, j in zip(samples[:-1], samples[1:]):
            if state[moving[i]] == state[moving[j]]:
                state[moving[i + 1 : j]] = state[moving[i]]
            else:
                for m in range(i + 1, j):
                    state[moving[m]] = classify(int(moving[m]))
        for k0, k1 in _runs(state):
            if times[k1] - times[k0] + _EPS_T >= min_duration:
                events.append(Event("wrong_way", [int(a.id)], float(times[k0]), float(times[k1]),
                                    {"angle": float(np.nanmean(angles[k0:k1 + 1]))}))
    return events


def _stop_line(scene: Scene, i: int, line) -> tuple[np.ndarray, Actor] | None:
    try:
        poly, light_id = line
    except (TypeError, ValueError):
        raise ValueError(f"stop_lines[{i}]: expected (polyline, light_actor_id), got {line!r}") from None
    if light_id is None:  # a stop line no light governs (e.g. a stop sign): nothing to run
        return None
    poly = np.asarray(poly, dtype=np.float64)
    if poly.ndim != 2 or poly.shape[0] < 2 or poly.shape[1] not in (2, 3):
        raise ValueError(f"stop_lines[{i}]: polyline must be (N >= 2, 2 or 3) world metres, got shape {poly.shape}")
    try:
        light = scene.actor(int(light_id))
    except KeyError:
        raise ValueError(f"stop_lines[{i}]: no traffic-light actor {light_id} in scene {scene.name!r}") from None
    if light.states is None or len(light.states) != len(scene.times):
        raise ValueError(f"stop_lines[{i}]: actor {light_id} has no per-frame states "
                         f"({0 if light.states is None else len(light.states)} for {len(scene.times)} frames)")
    return poly[:, :2], light


def _crossing_times(points: np.ndarray, poly: np.ndarray, times: np.ndarray) -> np.ndarray:
    """(T-1,) time at which the point's path between frames k-1 and k crosses the polyline (NaN: no crossing)."""
    p0, p1 = points[:-1, None, :], points[1:, None, :]
    s = segment_crossings(p0, p1, poly[None, :-1, :], poly[None, 1:, :])  # (T-1, M-1)
    first = np.where(np.isnan(s), np.inf, s).min(axis=1)  # earliest crossing along the step
    s = np.where(np.isinf(first), np.nan, first)
    return times[:-1] + s * np.diff(times)


def detect_red_light(scene: Scene, stop_lines: Sequence[StopLine], *, min_speed: float = 0.5) -> list[Event]:
    """A vehicle's front (box centre + half its length along the heading) crossing a stop line, moving forward,
    while the governing light's state at the frame nearest the crossing is "red". t_start = interpolated crossing
    time, t_end = time its rear crosses the same line (the last scene time if it never does). Stop lines whose
    light id is None are ignored. details: stop_line (index into stop_lines), speed (m/s)."""
    lines = [(i, ln) for i, ln in ((i, _stop_line(scene, i, line)) for i, line in enumerate(stop_lines))
             if ln is not None]
    times = scene.times
    events = []
    if len(times) < 2:
        return events
    for a in scene.actors:
        if a.category not in VEHICLE_CATEGORIES:
            continue
        tr = make_track(scene, a)
        half = tr.heading * (float(a.size[0]) / 2.0)
        front, rear = tr.xy + half, tr.xy - half
        step_fwd = np.einsum("kd,kd->k", front[1:] - front[:-1], tr.heading[1:]) > 0
        for li, (poly, light) in lines:
            t_front = _crossing_times(front, poly, times)
            t_rear = _crossing_times(rear, poly, times)
            for k in np.flatnonzero(~np.isnan(t_front) & step_fwd & (tr.speed[1:] > min_speed)):
                tc = float(t_front[k])
                kk = k if tc - times[k] < times[k + 1] - tc else k + 1  # frame nearest the crossing
                if light.states[kk] != "red":
                    continue
                later = np.flatnonzero(~np.isnan(t_rear[k:]))
                t_end = float(t_rear[k + later[0]]) if later.size else float(times[-1])
                events.append(Event("red_light", [int(a.id), int(light.id)], tc, max(t_end, tc),
                                    {"stop_line": li, "speed": float(tr.speed[k + 1])}))
    return events


def crosswalk_fraction(scene: Scene, x, y, radius: float) -> np.ndarray:
    """Fraction of the ground within `radius` m of each point (x, y) painted as road_line (tag 24): high on zebra
    crossings (stripes cover about half of them), low near ordinary lane lines (thin). The disc is sampled on a
    grid centred on the point with a step of the raster resolution (at least radius/15, at most radius/4)."""
    g = scene.ground
    step = min(max(float(g.resolution), radius / 15.0), radius / 4.0)
    n = int(np.floor(radius / step))
    o = step * np.arange(-n, n + 1)
    ox, oy = np.meshgrid(o, o)
    disc = ox**2 + oy**2 <= radius**2 + 1e-12
    px = np.asarray(x, dtype=np.float64)[..., None] + ox[disc]
    py = np.asarray(y, dtype=np.float64)[..., None] + oy[disc]
    tags, _ = g.lookup(px, py)
    return np.mean(tags == CROSSWALK_TAG, axis=-1)


def detect_jaywalking(scene: Scene, *, crosswalk_radius: float = 2.0, crosswalk_min_fraction: float = 0.2,
                      min_duration: float = 0.5) -> list[Event]:
    """Pedestrians standing or walking on the road (ground tags road / road_line under their box centre) away from
    crosswalks (road_line coverage within `crosswalk_radius` m below `crosswalk_min_fraction`, see
    crosswalk_fraction; on the built-in layouts this counts a point within about 1 m of a zebra as on it) for at
    least `min_duration` s. One event per such run of frames."""
    events = []
    for a in scene.actors:
        if a.category != "pedestrian":
            continue
        xy = a.box_centers()[:, :2]
        tags, _ = scene.ground.lookup(xy[:, 0], xy[:, 1])
        on_road = np.flatnonzero(np.isin(tags, ROAD_TAGS))
        state = np.full(len(scene.times), -1, dtype=np.int8)
        if on_road.size:
            frac = crosswalk_fraction(scene, xy[on_road, 0], xy[on_road, 1], crosswalk_radius)
            state[on_road[frac < crosswalk_min_fraction]] = 1
        for k0, k1 in _runs(state):
            if scene.times[k1] - scene.times[k0] + _EPS_T >= min_duration:
                events.append(Event("jaywalking", [int(a.id)], float(scene.times[k0]), float(scene.times[k1]), {}))
    return events


def detect_events(
    scene: Scene,
    *,
    ttc_threshold: float = 1.5,
    lane_direction_fn: LaneDirectionFn | None = None,
    stop_lines: Sequence[StopLine] | None = None,
    hard_negative_distance: float = 1.0,
    min_speed: float = 0.5,
    jaywalking: bool = True,
) -> list[Event]:
    """All detectors over a scene, sorted by (t_start, kind, actor_ids). Wrong-way needs `lane_direction_fn`,
    red-light needs `stop_lines`; each is skipped when its input is None. Jaywalking reads the scene's ground tags:
    turn it off when the ground is not the recording's real road layout."""
    histories = pair_histories(scene, horizon=ttc_threshold, reach=hard_negative_distance, min_speed=min_speed)
    events = detect_collisions(scene, histories)
    events += detect_near_misses(scene, ttc_threshold=ttc_threshold, histories=histories)
    events += detect_hard_negatives(scene, distance=hard_negative_distance, min_speed=min_speed, histories=histories)
    if lane_direction_fn is not None:
        events += detect_wrong_way(scene, lane_direction_fn)
    if stop_lines is not None:
        events += detect_red_light(scene, stop_lines, min_speed=min_speed)
    if jaywalking:
        events += detect_jaywalking(scene)
    events.sort(key=lambda e: (e.t_start, e.kind, e.actor_ids))
    return events


def merge_events(existing: Sequence[Event], detected: Sequence[Event], *, tolerance: float = 0.5) -> list[Event]:
    """`existing` (e.g. scripted by the scenario generator or read from a recording) plus the detected events that
    do not duplicate one: same kind, spans overlapping within `tolerance` s, and one actor set containing the
    other (a detector may name more actors, e.g. the traffic light a red-light runner passed: those ids are added
    to the existing event, which is otherwise kept as it is)."""
    out = [Event(e.kind, list(e.actor_ids), e.t_start, e.t_end, dict(e.details)) for e in existing]
    n_existing = len(out)
    for d in detected:
        for e in out[:n_existing]:
            a, b = set(e.actor_ids), set(d.actor_ids)
            if e.kind == d.kind and (a <= b or b <= a) and \
                    d.t_start <= e.t_end + tolerance and e.t_start <= d.t_end + tolerance:
                e.actor_ids += [i for i in d.actor_ids if i not in a]
                break
        else:
            out.append(d)
    return out
