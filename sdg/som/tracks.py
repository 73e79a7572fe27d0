"""What a video shows, as facts over its frames: the actors' tracks with per-frame visibility in one variant, the
clip's events with stable ids (and the close pairs that did not collide), and the motion facts the video questions
and captions state. Every definition here is exact and uses only values stored in the dataset (the tracks, the
objects of the frame rows, the events, the camera), so an answer can be recomputed from the Parquet columns.

Definitions (T frames at times t_k, seconds from the clip's first frame; speed in m/s; positions are box centres):
  askable(k)      the actor has a mark, a visible box with pixels, visibility >= 0.3 and survival >= 0.3 (when
                  checked) in frame k (the frame questions' rule, sdg.som.qa.is_askable)
  moving(k)       speed_k > MOVING (0.5 m/s); stopped(k): speed_k < STOPPED (0.2 m/s); between: neither
  footprint       the box's ground rectangle: centre (x, y), length along the heading, width across
  collide(a, b)   the footprints of a and b, each grown by CONTACT (5 cm), overlap in some frame: they touch (the
                  simulator's contact leaves no gap, float storage may leave a micrometre); a question whose answer
                  changes when the footprints grow by 3 or 7 cm instead is not asked
  step speed      s_k = |p_{k+1} - p_k| / (t_{k+1} - t_k) over the ground plane, for k = 0..T-2
  brakes in [t0, t1]  some k with t0 <= t_k and t_{k+2} <= t1, s_k >= 1 m/s and (s_k - s_{k+1}) / (t_{k+1} - t_k)
                  >= BRAKE_DECEL (3 m/s^2)
  turn            over the moving frames: heading change h = wrap(yaw_last - yaw_first) (CARLA yaw grows clockwise
                  seen from above, so h > 0 is a right turn); "stays stopped" when never moving, else "turns right"
                  if h >= 45, "turns left" if h <= -45, "goes straight" if |h| <= 15 and the path is >= 5 m long;
                  anything else is not asked
  toward / away   d_k = distance box centre -> camera over the askable moving frames; asked when those frames span
                  >= 5 frames and |d_last - d_first| >= 3 m: "toward" if it shrinks
  left / right    u_k = the box centre projected with the frame's intrinsics and world_to_camera, over the askable
                  moving frames (>= 5): "left to right" if u_last - u_first >= 8 % of the width, "right to left" if
                  <= -8 %
  enters junction the box centre is outside every junction polygon at frame k-1 and inside one at frame k
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from sdg.model import ActorTrack, ClipAnnotations
from sdg.som.qa import event_participants, is_askable
from sdg.som.records import get

MOVING, STOPPED = 0.5, 0.2
BRAKE_DECEL = 3.0
TURN_MIN, STRAIGHT_MAX, MIN_PATH = 45.0, 15.0, 5.0
MIN_DIR_FRAMES, MIN_DIR_METRES, MIN_DIR_WIDTH = 5, 3.0, 0.08
VEHICLES = frozenset({"car", "van", "truck", "bus", "motorcycle", "bicycle"})
NONCOLLISION_PAIRS = 2  # close vehicle pairs that did not collide, per clip (the workflow's hard negatives)
NONCOLLISION_REACH = 12.0  # metres: how close (box centres) such a pair must come


@dataclass
class Track:
    actor_id: int
    mark: int
    category: str
    type_id: str
    size: np.ndarray  # (3,)
    center: np.ndarray  # (T, 3)
    yaw: np.ndarray  # (T,)
    speed: np.ndarray  # (T,)
    askable: np.ndarray  # (T,) bool
    visibility: np.ndarray  # (T,) float, 0 where not reported
    states: list[str] | None = None
    state_visible: np.ndarray | None = None  # (T,) bool (traffic lights)

    @property
    def is_vehicle(self) -> bool:
        return self.category in VEHICLES

    def noun(self) -> str:
        return {"pedestrian": "pedestrian", "bicycle": "cyclist", "motorcycle": "motorcycle", "truck": "truck",
                "bus": "bus", "traffic_light": "traffic light", "traffic_sign": "traffic sign"}.get(self.category,
                                                                                                  "vehicle")


@dataclass
class VideoEvent:
    event_id: str
    kind: str  # scene kinds + "noncollision"
    actor_ids: list[int]
    t_start: float  # seconds from the clip's first frame
    t_end: float
    details: dict = field(default_factory=dict)

    def participants(self) -> list[int]:
        return event_participants(self.kind, self.actor_ids)


@dataclass
class VideoFacts:
    """One video (a clip in one variant): times from 0, the camera, tracks, events, junction polygons."""

    times: np.ndarray  # (T,) seconds from the first frame
    width: int
    height: int
    K: np.ndarray  # (3, 3)
    w2c: np.ndarray  # (4, 4) world -> OpenCV camera
    camera_location: np.ndarray  # (3,)
    tracks: dict[int, Track]
    events: list[VideoEvent]
    junctions: list[np.ndarray] = field(default_factory=list)
    # event kinds whose absence is known: the trajectory detectors always run; wrong-way, red-light and jaywalking
    # only where the scene's own road layout is known (else "no" answers about them would be guesses)
    detected_kinds: frozenset = frozenset({"collision", "near_miss", "noncollision"})

    @property
    def duration(self) -> float:
        return float(self.times[-1]) if len(self.times) else 0.0

    @property
    def fps(self) -> float:
        return float(1.0 / np.median(np.diff(self.times))) if len(self.times) > 1 else 10.0

    def frame_at(self, t: float) -> int:
        """The first frame at or after time t (clamped to the video)."""
        return int(min(np.searchsorted(self.times, t - 1e-6), len(self.times) - 1))

    def nearest_frame(self, t: float) -> int:
        return int(np.argmin(np.abs(self.times - t)))

    def mark(self, actor_id: int) -> int:
        tr = self.tracks.get(int(actor_id))
        return tr.mark if tr is not None else 0

    def image_u(self, tr: Track) -> np.ndarray:
        pc = tr.center @ self.w2c[:3, :3].T + self.w2c[:3, 3]
        z = np.where(np.abs(pc[:, 2]) < 1e-9, 1e-9, pc[:, 2])
        return self.K[0, 0] * pc[:, 0] / z + self.K[0, 2]

    def camera_distance(self, tr: Track) -> np.ndarray:
        return np.linalg.norm(tr.center - self.camera_location[None, :], axis=1)


# ------------------------------------------------------------------------------------------------ building
LANE_KINDS = frozenset({"wrong_way", "red_light", "jaywalking"})


def build_facts(ann: ClipAnnotations, times: Sequence[float], camera, objects: Sequence[Sequence[Any]],
                junctions: Sequence[np.ndarray] = (), road_known: bool = False) -> VideoFacts:
    """The facts of one video of a clip: `times` the clip's scene times; `objects` per frame the video's object
    records (ObjectAnnotation or dicts, with `survival` set for an augmented variant and `state_visible` as the
    video shows the lights). road_known: the lane-based event detectors ran (the scene's own road layout)."""
    t = np.asarray(times, dtype=np.float64)
    rel = t - t[0] if len(t) else t
    n = len(t)
    tracks: dict[int, Track] = {aid: _track(at, ann.marks.get(aid, 0), n) for aid, at in ann.tracks.items()}
    for k, objs in enumerate(objects):
        for o in objs:
            tr = tracks.get(int(get(o, "actor_id", 0)))
            if tr is None:
                continue
            tr.askable[k] = is_askable(o)
            tr.visibility[k] = float(get(o, "visibility", 0.0))
            if tr.state_visible is not None:
                tr.state_visible[k] = get(o, "state_visible") is True and tr.askable[k]
    events = clip_events(ann.scene_events, t[0] if n else 0.0, tracks, rel)
    return VideoFacts(times=rel, width=camera.width, height=camera.height, K=np.asarray(camera.K),
                      w2c=np.asarray(camera.world_to_camera), camera_location=np.asarray(camera.location, float),
                      tracks=tracks, events=events, junctions=[np.asarray(j, float) for j in junctions],
                      detected_kinds=frozenset({"collision", "near_miss", "noncollision"} |
                                               (LANE_KINDS if road_known else set())))


def _track(at: ActorTrack, mark: int, n: int) -> Track:
    return Track(actor_id=at.actor_id, mark=int(mark), category=at.category, type_id=at.type_id,
                 size=np.asarray(at.size, float), center=np.asarray(at.center, float), yaw=np.asarray(at.yaw, float),
                 speed=np.asarray(at.speed, float), askable=np.zeros(n, bool), visibility=np.zeros(n),
                 states=list(at.states) if at.states is not None else None,
                 state_visible=np.zeros(n, bool) if at.category == "traffic_light" else None)


def clip_events(scene_events: Sequence[dict], t0: float, tracks: dict[int, Track], rel: np.ndarray
                ) -> list[VideoEvent]:
    """The clip's events with ids, times relative to the clip: every scene event overlapping the clip window
    (hard negatives become "noncollision", unless the pair collides or nearly does), then closest-approach
    vehicle pairs that never collide and have no near miss (up to
    NONCOLLISION_PAIRS noncollision pairs in all). Ids: the kind, or kind_<k> when a kind occurs more than once;
    noncollision pairs are always noncollision_<k>."""
    end = float(rel[-1]) if len(rel) else 0.0
    raw = []
    for ev in scene_events:
        a, b = float(ev["t_start"]) - t0, float(ev["t_end"]) - t0
        if b < -1e-6 or a > end + 1e-6:
            continue
        kind = "noncollision" if ev["kind"] == "hard_negative" else str(ev["kind"])
        raw.append((kind, [int(x) for x in ev["actor_ids"]], a, b, dict(ev.get("details") or {})))
    conflicts = {frozenset(ids) for kind, ids, *_ in raw if kind in ("collision", "near_miss")}
    # a close pair that collided or nearly did is that event, not a hard negative
    raw = [r for r in raw if not (r[0] == "noncollision" and frozenset(r[1]) in conflicts)]
    pairs = {frozenset(ids) for kind, ids, *_ in raw if kind == "noncollision"}
    vehicles = sorted(a for a, tr in tracks.items() if tr.is_vehicle and tr.mark > 0)
    cands = []
    for i, a in enumerate(vehicles):
        for b in vehicles[i + 1:]:
            if frozenset((a, b)) in conflicts | pairs or collide_frames(tracks[a], tracks[b]).size:
                continue
            if max(tracks[a].speed.max(), tracks[b].speed.max()) <= 1.0:
                continue
            d = np.linalg.norm(tracks[a].center[:, :2] - tracks[b].center[:, :2], axis=1)
            k = int(np.argmin(d))
            if d[k] <= NONCOLLISION_REACH:
                cands.append((float(d[k]), a, b, k))
    for dist, a, b, k in sorted(cands)[: max(0, NONCOLLISION_PAIRS - len(pairs))]:
        tk = float(rel[k])
        raw.append(("noncollision", [a, b], max(0.0, tk - 0.5), min(end, tk + 0.5),
                    {"source": "closest_approach", "min_distance": round(dist, 3), "t_min": round(tk, 3)}))
    raw.sort(key=lambda r: (r[0] == "noncollision", r[2], r[0], r[1]))
    counts: dict[str, int] = {}
    for kind, *_ in raw:
        counts[kind] = counts.get(kind, 0) + 1
    seen: dict[str, int] = {}
    out = []
    for kind, ids, a, b, details in raw:
        k = seen.get(kind, 0)
        seen[kind] = k + 1
        eid = f"{kind}_{k}" if kind == "noncollision" or counts[kind] > 1 else kind
        out.append(VideoEvent(eid, kind, ids, a, b, details))
    return out


# ------------------------------------------------------------------------------------------------ geometry
def footprint(center_xy: np.ndarray, yaw_deg: np.ndarray, size: np.ndarray, grow: float = 0.0) -> np.ndarray:
    """(T, 4, 2) corners of the ground rectangles, each side moved out by `grow` metres (in when negative)."""
    h = np.radians(yaw_deg)
    f = np.stack([np.cos(h), np.sin(h)], axis=-1)
    s = np.stack([-np.sin(h), np.cos(h)], axis=-1)
    hl, hw = float(size[0]) / 2.0 + grow, float(size[1]) / 2.0 + grow
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], float)
    return center_xy[:, None, :] + signs[None, :, 0:1] * hl * f[:, None, :] + signs[None, :, 1:2] * hw * s[:, None, :]


def rects_overlap(ra: np.ndarray, rb: np.ndarray) -> np.ndarray:
    """(T,) separating-axis test of two (T, 4, 2) rectangle sequences; touching counts as overlapping."""
    ok = np.ones(len(ra), bool)
    for r in (ra, rb):
        for i in range(2):
            axis = r[:, i + 1] - r[:, i]
            pa = np.einsum("tkd,td->tk", ra, axis)
            pb = np.einsum("tkd,td->tk", rb, axis)
            ok &= (pa.max(1) >= pb.min(1) - 1e-9) & (pb.max(1) >= pa.min(1) - 1e-9)
    return ok


CONTACT = 0.05  # metres each footprint is grown by: footprints that touch (the simulator's contact) overlap
MARGIN = 0.02  # metres: an answer that flips when the footprints grow or shrink this much more is not asked


def collide_frames(a: Track, b: Track, grow: float = CONTACT) -> np.ndarray:
    """Frames in which the footprints of a and b, each grown by `grow` m, overlap."""
    ra = footprint(a.center[:, :2], a.yaw, a.size, grow)
    rb = footprint(b.center[:, :2], b.yaw, b.size, grow)
    return np.flatnonzero(rects_overlap(ra, rb))


def clear_cut(fn, *args) -> bool:
    """Whether a footprint test fn(*args, grow=g) gives the same verdict with footprints grown by CONTACT +- MARGIN
    (else the answer rests on centimetres, and float32 storage could flip it)."""
    return bool(fn(*args, grow=CONTACT + MARGIN).size) == bool(fn(*args, grow=CONTACT - MARGIN).size)


def step_speeds(tr: Track, times: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(np.diff(tr.center[:, :2], axis=0), axis=1)
    return d / np.maximum(np.diff(times), 1e-9)


def brakes(tr: Track, times: np.ndarray, t0: float, t1: float) -> tuple[bool, float]:
    """(whether it brakes in [t0, t1], the strongest deceleration there in m/s^2)."""
    s = step_speeds(tr, times)
    best = 0.0
    for k in range(len(s) - 1):
        if times[k] < t0 - 1e-6 or times[k + 2] > t1 + 1e-6 or s[k] < 1.0:
            continue
        best = max(best, (s[k] - s[k + 1]) / max(times[k + 1] - times[k], 1e-9))
    return best >= BRAKE_DECEL, best


def turn_of(tr: Track) -> str | None:
    moving = np.flatnonzero(tr.speed > MOVING)
    if moving.size == 0:
        return "stays stopped"
    h = (tr.yaw[moving[-1]] - tr.yaw[moving[0]] + 180.0) % 360.0 - 180.0
    path = float(np.linalg.norm(np.diff(tr.center[moving[0]:moving[-1] + 1, :2], axis=0), axis=1).sum())
    if h >= TURN_MIN:
        return "turns right"
    if h <= -TURN_MIN:
        return "turns left"
    if abs(h) <= STRAIGHT_MAX and path >= MIN_PATH:
        return "goes straight"
    return None


def _dir_frames(tr: Track) -> np.ndarray:
    return np.flatnonzero(tr.askable & (tr.speed > MOVING))


def toward_or_away(facts: VideoFacts, tr: Track) -> str | None:
    f = _dir_frames(tr)
    if f.size < MIN_DIR_FRAMES:
        return None
    d = facts.camera_distance(tr)
    delta = float(d[f[-1]] - d[f[0]])
    return None if abs(delta) < MIN_DIR_METRES else ("toward" if delta < 0 else "away")


def left_or_right(facts: VideoFacts, tr: Track) -> str | None:
    f = _dir_frames(tr)
    if f.size < MIN_DIR_FRAMES:
        return None
    u = facts.image_u(tr)
    delta = float(u[f[-1]] - u[f[0]])
    if abs(delta) < MIN_DIR_WIDTH * facts.width:
        return None
    return "left to right" if delta > 0 else "right to left"


def inside(polygon: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(N,) even-odd point-in-polygon for (N, 2) points; polygon (M, 2)."""
    x, y = xy[:, 0], xy[:, 1]
    res = np.zeros(len(xy), bool)
    m = len(polygon)
    for i in range(m):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % m]
        cond = (y1 > y) != (y2 > y)
        xi = x1 + (y - y1) * (x2 - x1) / np.where(y2 - y1 == 0, 1e-12, y2 - y1)
        res ^= cond & (x < xi)
    return res


def junction_entries(facts: VideoFacts, tr: Track) -> list[int]:
    """Frames k at which the track's centre enters a junction polygon (outside at k-1, inside at k)."""
    if not facts.junctions:
        return []
    inj = np.zeros(len(facts.times), bool)
    for poly in facts.junctions:
        inj |= inside(poly, tr.center[:, :2])
    return [int(k) for k in np.flatnonzero(~inj[:-1] & inj[1:]) + 1]


# --------------------------------------------------------------------------------------------- counterfactuals
def frozen_collision(a: Track, b: Track, k_freeze: int, grow: float = CONTACT) -> np.ndarray:
    """Frames at which b's actual footprint overlaps a's footprint if a had stopped at frame k_freeze and stayed
    there (a moves as it did up to k_freeze)."""
    c = a.center.copy()
    y = a.yaw.copy()
    c[k_freeze:] = c[k_freeze]
    y[k_freeze:] = y[k_freeze]
    ra = footprint(c[:, :2], y, a.size, grow)
    rb = footprint(b.center[:, :2], b.yaw, b.size, grow)
    return np.flatnonzero(rects_overlap(ra, rb))


def kept_course_collision(a: Track, b: Track, k_from: int, times: np.ndarray, grow: float = CONTACT
                          ) -> np.ndarray:
    """Frames at which a's footprint overlaps b's actual one if a had kept, from frame k_from on, the velocity
    (step velocity from k_from to k_from + 1, or from k_from - 1 at the last frame) and heading it had there."""
    k1 = min(k_from + 1, len(times) - 1)
    k0 = k1 - 1
    v = (a.center[k1, :2] - a.center[k0, :2]) / max(times[k1] - times[k0], 1e-9)
    c = a.center[:, :2].copy()
    y = a.yaw.copy()
    c[k_from:] = a.center[k_from, :2] + (times[k_from:, None] - times[k_from]) * v[None, :]
    y[k_from:] = a.yaw[k_from]
    ra = footprint(c, y, a.size, grow)
    rb = footprint(b.center[:, :2], b.yaw, b.size, grow)
    return np.flatnonzero(rects_overlap(ra, rb))


def conflict_time(facts: VideoFacts, ev: VideoEvent) -> float:
    """The moment an event is about: a collision's first contact (t_start); for a near miss or noncollision
    pair the frame of the smallest centre distance within the event's span; otherwise t_start."""
    ids = ev.participants()
    if ev.kind in ("near_miss", "noncollision") and len(ids) >= 2 and all(i in facts.tracks for i in ids[:2]):
        a, b = facts.tracks[ids[0]], facts.tracks[ids[1]]
        d = np.linalg.norm(a.center[:, :2] - b.center[:, :2], axis=1)
        span = np.flatnonzero((facts.times >= ev.t_start - 1e-6) & (facts.times <= ev.t_end + 1e-6))
        if span.size:
            return float(facts.times[span[np.argmin(d[span])]])
    return float(ev.t_start)


def event_json(ev: VideoEvent, facts: VideoFacts) -> dict[str, Any]:
    return {"event_id": ev.event_id, "kind": ev.kind, "actor_ids": ev.actor_ids,
            "marks": [facts.mark(a) for a in ev.actor_ids if facts.mark(a) > 0], "t_start": ev.t_start,
            "t_end": ev.t_end, "details": json.dumps(ev.details, sort_keys=True, default=float)}
