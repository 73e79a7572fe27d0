"""Video questions over whole clips, from the ground truth (sdg.som.tracks gives the facts and their definitions).

Every question names objects by their Set-of-Mark number, names only objects that the video shows (askable in
enough frames: >= 3 frames of the event's window [t_start - 0.5, t_end + 0.5] for event participants, and the
frames a fact is read from otherwise), and has one exact answer recomputable from the stored columns.

Templates (`template`, kind, format, level; * = several phrasings chosen by `topic`):
  collision_pair        event     yes_no  easy  the workflow's "Is there a car collision between vehicles with
                                                numeric IDs X and Y?" over the event's video (only X, Y marked):
                                                collisions -> "Yes", noncollision pairs -> "No"
  event_yn *            event     yes_no  easy  "Is the vehicle marked 3 driving against traffic?" (wrong_way,
                                                red_light, jaywalking, near_miss): the event's actor(s) -> yes, an
                                                askable object of the same kind not in such an event -> no (only
                                                where that kind's detector ran: VideoFacts.detected_kinds)
  event_which *         event     MC      easy  "Which marked vehicle runs the red light?" options: the actor and 3
                                                askable same-kind objects not in such an event
  event_start_time      temporal  short   easy  t_start, one decimal (only events starting after the first frame,
                                                and not within 2 ms of a rounding boundary)
  event_start_frame     temporal  short   easy  first frame with t >= t_start (frames count from 0)
  event_end_time        temporal  short   easy  t_end, one decimal (only events ending before the last frame)
  event_time_bin        temporal  MC      easy  the window [a, a + w) holding t_start among 4 consecutive windows
  event_order           temporal  yes_no  hard  "Does A begin before B?" (starts >= 0.3 s apart)
  moving_after          temporal  yes_no  hard  moving 1 s after a collision / near miss (frame nearest t_c + 1)
  moving_state          motion    short   easy  moving | stopped at a frame
  direction_camera      motion    short   easy  toward | away (sdg.som.tracks.toward_or_away)
  direction_image       motion    short   easy  left to right | right to left
  turn                  motion    MC      easy  turns left | turns right | goes straight | stays stopped
  faster                motion    short   hard  the mark with the higher mean speed over the frames both are askable
                                                (>= 5), when >= 1.5x and >= 2 m/s faster; only two objects of the
                                                same noun (a car against a pedestrian answers itself)
  count_entering        motion    MC      hard  vehicles entering a junction area; options the block of 4 counts
                                                holding it, 0-3, 4-7, ... (asked only when every entry happens in a
                                                frame where the vehicle is askable)
  right_of_way          causal    short   hard  of a collision / near-miss pair, the one without a red-light or
                                                wrong-way event starting before the conflict
  braked                causal    yes_no  hard  brakes in [t_c - 2 s, t_c] (t_c: sdg.som.tracks.conflict_time)
  counterfactual_stop   causal    yes_no  hard  would A still collide with B had A stopped at time t and stayed
  counterfactual_course causal    yes_no  hard  would A collide with B had A kept its velocity from time t
Each pair carries a short `rationale` stating the facts behind the answer. Which candidates are asked is seeded by
(job seed, clip, template) only, so the simulator's video and every variant ask the same questions where the
variant still shows the objects; answer balance over the dataset is sdg.som.balance's job.
"""
from __future__ import annotations

import itertools
from typing import Iterable

import numpy as np

from sdg.model import QAPair
from sdg.seeds import stable_seed
from sdg.som.formats import count_options, multiple_choice
from sdg.som.tracks import (
    BRAKE_DECEL,
    MOVING,
    STOPPED,
    Track,
    VideoEvent,
    VideoFacts,
    brakes,
    clear_cut,
    collide_frames,
    conflict_time,
    frozen_collision,
    junction_entries,
    kept_course_collision,
    left_or_right,
    toward_or_away,
    turn_of,
)

TEMPLATES: dict[str, tuple[str, str, str]] = {  # template -> (kind, format, level)
    "collision_pair": ("event", "yes_no", "easy"),
    "event_yn": ("event", "yes_no", "easy"),
    "event_which": ("event", "multiple_choice", "easy"),
    "event_start_time": ("temporal", "short", "easy"),
    "event_start_frame": ("temporal", "short", "easy"),
    "event_end_time": ("temporal", "short", "easy"),
    "event_time_bin": ("temporal", "multiple_choice", "easy"),
    "event_order": ("temporal", "yes_no", "hard"),
    "moving_after": ("temporal", "yes_no", "hard"),
    "moving_state": ("motion", "short", "easy"),
    "direction_camera": ("motion", "short", "easy"),
    "direction_image": ("motion", "short", "easy"),
    "turn": ("motion", "multiple_choice", "easy"),
    "faster": ("motion", "short", "hard"),
    "count_entering": ("motion", "multiple_choice", "hard"),
    "right_of_way": ("causal", "short", "hard"),
    "braked": ("causal", "yes_no", "hard"),
    "counterfactual_stop": ("causal", "yes_no", "hard"),
    "counterfactual_course": ("causal", "yes_no", "hard"),
}
COLLISION_QUESTION = ("Is there a car collision between vehicles with numeric IDs {a} and {b}? Your final answer "
                      "should be either Yes or No.")
TURNS = ("turns left", "turns right", "goes straight", "stays stopped")
SINGLE_KINDS = ("wrong_way", "red_light", "jaywalking")
PAIR_KINDS = ("collision", "near_miss")
_YN = {  # event_yn phrasings
    "wrong_way": "Is the vehicle marked {a} driving against the direction of traffic?",
    "red_light": "Does the vehicle marked {a} run a red light?",
    "jaywalking": "Is the pedestrian marked {a} crossing the road away from a crosswalk?",
    "near_miss": "Do the {na} marked {a} and the {nb} marked {b} nearly collide without touching?",
}
_WHICH = {
    "wrong_way": "Which marked vehicle drives against the direction of traffic?",
    "red_light": "Which marked vehicle runs the red light?",
    "jaywalking": "Which marked pedestrian crosses the road away from a crosswalk?",
    "collision": "Which marked vehicle collides with the {nb} marked {b}?",
}
_DESC = {
    "collision": "the collision between the {na} marked {a} and the {nb} marked {b}",
    "near_miss": "the near miss between the {na} marked {a} and the {nb} marked {b}",
    "red_light": "the vehicle marked {a} crossing the stop line on red",
    "wrong_way": "the vehicle marked {a} driving against traffic",
    "jaywalking": "the pedestrian marked {a} walking on the road away from a crosswalk",
}


class _Ctx:
    def __init__(self, facts: VideoFacts, seed: int, clip_id: str, per_template: int):
        self.f, self.seed, self.clip_id, self.n = facts, seed, clip_id, per_template

    def rng(self, template: str) -> np.random.Generator:
        return np.random.default_rng(stable_seed(self.seed, self.clip_id, "video_qa", template))

    def seen(self, tr: Track | None, t0: float, t1: float, need: int = 3) -> bool:
        if tr is None or tr.mark <= 0:
            return False
        w = (self.f.times >= t0 - 1e-6) & (self.f.times <= t1 + 1e-6)
        return int((tr.askable & w).sum()) >= min(need, int(w.sum()))

    def shown(self, ev: VideoEvent) -> list[Track] | None:
        """The participants' tracks when the video shows them during the event, else None."""
        trs = [self.f.tracks.get(a) for a in ev.participants()]
        if not trs or any(not self.seen(tr, ev.t_start - 0.5, ev.t_end + 0.5) for tr in trs):
            return None
        return trs

    def desc(self, ev: VideoEvent, trs: list[Track]) -> str:
        a, b = trs[0], trs[-1]
        return _DESC[ev.kind].format(a=a.mark, b=b.mark, na=a.noun(), nb=b.noun())


def _qa(template: str, question: str, answer: str, rationale: str, video: str = "som", topic: str = "",
        choices: list[str] | None = None) -> QAPair:
    kind, fmt, level = TEMPLATES[template]
    return QAPair(question=question, answer=answer, kind=kind, template=template, format=fmt, level=level,
                  rationale=rationale, video=video, topic=topic, choices=choices or [])


def _mc(template: str, question: str, answer: str, distractors: list[str], rationale: str, topic: str = ""
        ) -> QAPair | None:
    kind, fmt, level = TEMPLATES[template]
    return multiple_choice(question, answer, distractors, kind=kind, template=template, level=level,
                           rationale=rationale, video="som", topic=topic)


def make_video_qa(facts: VideoFacts, *, seed: int, clip_id: str, variant_name: str, per_template: int = 4
                  ) -> list[QAPair]:
    """The video questions of one video (a clip in one variant). Ids: <clip>/<variant_name>/video/<template>/<k>.
    Multiple-choice pairs come with the correct option first (deal letters with formats.shuffle_options)."""
    c = _Ctx(facts, seed, clip_id, per_template)
    by_template: dict[str, list[QAPair]] = {}
    for fn in _GENERATORS:
        for q in fn(c):
            if q is not None:
                by_template.setdefault(q.template, []).append(q)
    out: list[QAPair] = []
    for template in TEMPLATES:
        cands = by_template.get(template, [])
        if len(cands) > per_template:
            keep = sorted(c.rng(template).choice(len(cands), per_template, replace=False))
            cands = [cands[i] for i in keep]
        out += [q.model_copy(update={"id": f"{clip_id}/{variant_name}/video/{template}/{k}"})
                for k, q in enumerate(cands)]
    return out


# ------------------------------------------------------------------------------------------------- event
def _collision_pair(c: _Ctx) -> Iterable[QAPair]:
    for ev in c.f.events:
        if ev.kind not in ("collision", "noncollision"):
            continue
        trs = c.shown(ev)
        if trs is None or len(trs) != 2 or not all(t.is_vehicle for t in trs):
            continue
        a, b = trs if c.rng("collision_pair_" + ev.event_id).integers(2) else trs[::-1]
        if not clear_cut(collide_frames, a, b):
            continue
        hit = collide_frames(a, b)
        if ev.kind == "collision":
            why = (f"The footprints of vehicles {a.mark} and {b.mark} touch from "
                   f"{c.f.times[hit[0]]:.1f} s." if hit.size else "")
        else:
            why = (f"Vehicles {a.mark} and {b.mark} come within {ev.details.get('min_distance', 0):.1f} m of each "
                   "other but their footprints never touch.")
        yield _qa("collision_pair", COLLISION_QUESTION.format(a=a.mark, b=b.mark),
                  "Yes" if ev.kind == "collision" else "No", why, video=f"event:{ev.event_id}")


def _in_kind(c: _Ctx, kind: str) -> set[int]:
    return {a for ev in c.f.events if ev.kind == kind for a in ev.participants()}


def _same_group(c: _Ctx, kind: str, exclude: set[int]) -> list[Track]:
    want_ped = kind == "jaywalking"
    return [tr for a, tr in sorted(c.f.tracks.items()) if a not in exclude and tr.mark > 0
            and (tr.category == "pedestrian" if want_ped else tr.is_vehicle) and c.seen(tr, 0.0, c.f.duration, 5)]


def _event_yn(c: _Ctx) -> Iterable[QAPair]:
    for kind in SINGLE_KINDS:
        actors = _in_kind(c, kind)
        for ev in (e for e in c.f.events if e.kind == kind):
            trs = c.shown(ev)
            if trs is None:
                continue
            tr = trs[0]
            yield _qa("event_yn", _YN[kind].format(a=tr.mark), "yes",
                      f"The {tr.noun()} marked {tr.mark} does so from {ev.t_start:.1f} s to {ev.t_end:.1f} s.",
                      topic=kind)
        others = _same_group(c, kind, actors) if kind in c.f.detected_kinds else []
        pick = c.rng("event_yn_" + kind).permutation(len(others))[:2] if others else []
        for tr in [others[i] for i in sorted(pick)]:
            yield _qa("event_yn", _YN[kind].format(a=tr.mark), "no",
                      f"The {tr.noun()} marked {tr.mark} is not part of any {kind.replace('_', '-')} event.",
                      topic=kind)
    pairs = [e for e in c.f.events if e.kind == "near_miss"] + [e for e in c.f.events if e.kind == "noncollision"]
    for ev in pairs:
        trs = c.shown(ev)
        if trs is None or len(trs) != 2:
            continue
        a, b = trs
        yes = ev.kind == "near_miss"
        why = (f"The {a.noun()} {a.mark} and the {b.noun()} {b.mark} nearly meet "
               f"(time to collision {ev.details.get('min_ttc', ev.details.get('ttc', 0.0)):.1f} s) but never "
               "touch." if yes else f"They stay apart: no near miss or collision between {a.mark} and {b.mark}.")
        yield _qa("event_yn", _YN["near_miss"].format(a=a.mark, b=b.mark, na=a.noun(), nb=b.noun()),
                  "yes" if yes else "no", why, topic="near_miss")


def _event_which(c: _Ctx) -> Iterable[QAPair]:
    for ev in c.f.events:
        if ev.kind not in (*SINGLE_KINDS, "collision") or ev.kind not in c.f.detected_kinds:
            continue  # distractors claim "not this event": only where its absence is known
        trs = c.shown(ev)
        if trs is None:
            continue
        rng = c.rng("event_which_" + ev.event_id)
        if ev.kind == "collision":
            if len(trs) != 2:
                continue
            ans, ref = trs if rng.integers(2) else trs[::-1]
            pool = [t for t in _same_group(c, "collision", {ans.actor_id, ref.actor_id})
                    if not collide_frames(t, ref).size]
            q = _WHICH["collision"].format(b=ref.mark, nb=ref.noun())
        else:
            ans = trs[0]
            pool = _same_group(c, ev.kind, _in_kind(c, ev.kind))
            q = _WHICH[ev.kind]
        if len(pool) < 3:
            continue
        picks = [pool[i] for i in rng.choice(len(pool), 3, replace=False)]
        opt = "the {} marked {}"
        mc = _mc("event_which", q, opt.format(ans.noun(), ans.mark), [opt.format(t.noun(), t.mark) for t in picks],
                 f"The {ans.noun()} marked {ans.mark} is the one ({ev.kind.replace('_', ' ')} from "
                 f"{ev.t_start:.1f} s).", topic=ev.kind)
        if mc is not None:
            yield mc


# ---------------------------------------------------------------------------------------------- temporal
def _timed(c: _Ctx) -> list[tuple[VideoEvent, list[Track]]]:
    out = []
    for ev in c.f.events:
        if ev.kind == "noncollision":
            continue
        trs = c.shown(ev)
        if trs is not None:
            out.append((ev, trs))
    return out


def _clear_decimal(t: float) -> bool:
    """t rounds to one decimal without sitting on a rounding boundary (x.x5 +- 2 ms): storage noise cannot flip it."""
    return abs((t * 10.0) % 1.0 - 0.5) > 0.02


def _event_times(c: _Ctx) -> Iterable[QAPair]:
    first, last = float(c.f.times[0]), float(c.f.times[-1])
    for ev, trs in _timed(c):
        d = c.desc(ev, trs)
        if ev.t_start > first + 1e-6 and _clear_decimal(ev.t_start):
            yield _qa("event_start_time", f"When does {d} begin, in seconds from the start of the video?",
                      f"{ev.t_start:.1f}", f"It begins at {ev.t_start:.2f} s.", topic=ev.kind)
            k = c.f.frame_at(ev.t_start)
            yield _qa("event_start_frame", f"In which frame does {d} begin? Frames are numbered from 0.", str(k),
                      f"It begins at {ev.t_start:.2f} s; frame {k} is the first at or after it "
                      f"({c.f.times[k]:.2f} s).", topic=ev.kind)
        if ev.t_end < last - 1e-6 and _clear_decimal(ev.t_end):
            yield _qa("event_end_time", f"When does {d} end, in seconds from the start of the video?",
                      f"{ev.t_end:.1f}", f"It ends at {ev.t_end:.2f} s.", topic=ev.kind)


def _time_bins(c: _Ctx) -> Iterable[QAPair]:
    dur = c.f.duration
    w = 0.5 if dur <= 4.0 else float(max(1.0, round(dur / 6.0)))
    n_bins = int(np.ceil((dur + 1e-6) / w))
    if n_bins < 4:
        return
    rng = c.rng("event_time_bin")
    for ev, trs in _timed(c):
        if ev.t_start <= float(c.f.times[0]) + 1e-6:
            continue
        b = int(np.floor(ev.t_start / w + 1e-9))
        if min(ev.t_start - b * w, (b + 1) * w - ev.t_start) < 2e-3:
            continue  # on a window's edge: storage noise could move it to the next window
        feasible = [j for j in range(4) if b - j >= 0 and b - j + 4 <= n_bins]
        if not feasible:
            continue
        j = feasible[int(rng.integers(len(feasible)))]
        wins = [((b - j + i) * w, (b - j + i + 1) * w) for i in range(4)]
        text = [f"from {lo:.1f} s to {hi:.1f} s" for lo, hi in wins]
        mc = _mc("event_time_bin", f"During which time window does {c.desc(ev, trs)} begin?", text[j],
                 text[:j] + text[j + 1:], f"It begins at {ev.t_start:.2f} s, inside {text[j]}.", topic=ev.kind)
        if mc is not None:
            yield mc


def _event_order(c: _Ctx) -> Iterable[QAPair]:
    timed = _timed(c)
    for (ea, ta), (eb, tb) in itertools.combinations(timed, 2):
        if abs(ea.t_start - eb.t_start) < 0.3:
            continue
        da, db = c.desc(ea, ta), c.desc(eb, tb)
        why = f"{da[0].upper() + da[1:]} begins at {ea.t_start:.1f} s, {db} at {eb.t_start:.1f} s."
        yield _qa("event_order", f"Does {da} begin before {db}?", "yes" if ea.t_start < eb.t_start else "no", why)
        yield _qa("event_order", f"Does {db} begin before {da}?", "yes" if eb.t_start < ea.t_start else "no", why)


def _moving_after(c: _Ctx) -> Iterable[QAPair]:
    for ev, trs in _timed(c):
        if ev.kind not in PAIR_KINDS:
            continue
        tq = conflict_time(c.f, ev) + 1.0
        if tq > c.f.duration + 1e-6:
            continue
        k = c.f.nearest_frame(tq)
        noun = "collision" if ev.kind == "collision" else "near miss"
        for tr in trs:
            if not tr.askable[k] or STOPPED <= tr.speed[k] <= MOVING:
                continue
            yes = tr.speed[k] > MOVING
            yield _qa("moving_after", f"Is the {tr.noun()} marked {tr.mark} still moving one second after the "
                      f"{noun}?", "yes" if yes else "no",
                      f"At {c.f.times[k]:.1f} s its speed is {tr.speed[k]:.1f} m/s.", topic=ev.kind)


# ------------------------------------------------------------------------------------------------ motion
def _movers(c: _Ctx) -> list[Track]:
    return [tr for _, tr in sorted(c.f.tracks.items()) if tr.mark > 0 and (tr.is_vehicle or
                                                                          tr.category == "pedestrian")]


def _moving_state(c: _Ctx) -> Iterable[QAPair]:
    rng = c.rng("moving_state")
    for tr in _movers(c):
        ks = [k for k in np.flatnonzero(tr.askable) if tr.speed[k] > MOVING or tr.speed[k] < STOPPED]
        if not ks:
            continue
        k = int(ks[int(rng.integers(len(ks)))])
        yes = tr.speed[k] > MOVING
        yield _qa("moving_state", f"In frame {k} (at {c.f.times[k]:.1f} s), is the {tr.noun()} marked {tr.mark} "
                  "moving or stopped?", "moving" if yes else "stopped", f"Its speed there is {tr.speed[k]:.1f} m/s.",
                  topic=tr.noun())


def _directions(c: _Ctx) -> Iterable[QAPair]:
    for tr in _movers(c):
        d = toward_or_away(c.f, tr)
        if d is not None:
            dist = c.f.camera_distance(tr)
            yield _qa("direction_camera", f"Is the {tr.noun()} marked {tr.mark} moving toward or away from the "
                      "camera?", d, f"Its distance to the camera goes from {dist[np.flatnonzero(tr.askable)[0]]:.0f}"
                      f" m to {dist[np.flatnonzero(tr.askable)[-1]]:.0f} m while it moves.", topic=tr.noun())


def _directions_image(c: _Ctx) -> Iterable[QAPair]:
    for tr in _movers(c):
        d = left_or_right(c.f, tr)
        if d is not None:
            yield _qa("direction_image", f"Does the {tr.noun()} marked {tr.mark} move from left to right or from "
                      "right to left in the image?", d, f"It crosses the image {d} while it moves.", topic=tr.noun())


def _turn(c: _Ctx) -> Iterable[QAPair]:
    for tr in _movers(c):
        if not tr.is_vehicle or tr.askable.mean() < 0.5:
            continue
        t = turn_of(tr)
        if t is None:
            continue
        mc = _mc("turn", f"During the video, what does the vehicle marked {tr.mark} do?", t,
                 [x for x in TURNS if x != t], f"Its heading changes by "
                 f"{((tr.yaw[-1] - tr.yaw[0] + 180) % 360 - 180):.0f} degrees; top speed {tr.speed.max():.1f} m/s.")
        if mc is not None:
            yield mc


def _faster(c: _Ctx) -> Iterable[QAPair]:
    rng = c.rng("faster")
    movers = [tr for tr in _movers(c) if tr.askable.sum() >= 5]
    for a, b in itertools.combinations(movers, 2):
        both = a.askable & b.askable
        if both.sum() < 5 or a.noun() != b.noun():
            continue  # a car against a pedestrian would be answered by the nouns alone
        va, vb = float(a.speed[both].mean()), float(b.speed[both].mean())
        lo, hi = min(va, vb), max(va, vb)
        if hi < 1.5 * lo or hi - lo < 2.0:
            continue
        fast = a if va > vb else b
        x, y = (a, b) if rng.integers(2) else (b, a)
        yield _qa("faster", f"Which moves faster on average while both are visible, the {x.noun()} marked {x.mark} "
                  f"or the {y.noun()} marked {y.mark}?", str(fast.mark),
                  f"Mean speeds: {a.mark} {va:.1f} m/s, {b.mark} {vb:.1f} m/s.")


def _count_entering(c: _Ctx) -> Iterable[QAPair]:
    if not c.f.junctions:
        return
    entering, ok = [], True
    for _, tr in sorted(c.f.tracks.items()):
        if not tr.is_vehicle:
            continue
        ks = junction_entries(c.f, tr)
        if ks:
            entering.append(tr)
            ok &= all(tr.askable[k] for k in ks)
    if ok:
        marks = ", ".join(str(t.mark) for t in entering) or "none"
        answer, distractors = count_options(len(entering), lowest=0)
        mc = _mc("count_entering", "How many vehicles drive into the junction during the video?", answer,
                 distractors, f"Vehicles entering the junction: {marks}.")
        if mc is not None:
            yield mc


# ------------------------------------------------------------------------------------------------ causal
def _violator(c: _Ctx, ev: VideoEvent, trs: list[Track]) -> Track | None:
    tc = conflict_time(c.f, ev)
    bad = [tr for tr in trs if any(e.kind in ("red_light", "wrong_way") and tr.actor_id in e.participants()
                                   and e.t_start <= tc + 1e-6 for e in c.f.events)]
    return bad[0] if len(bad) == 1 else None


def _right_of_way(c: _Ctx) -> Iterable[QAPair]:
    for ev, trs in _timed(c):
        if ev.kind not in PAIR_KINDS or len(trs) != 2:
            continue
        bad = _violator(c, ev, trs)
        if bad is None:
            continue
        good = trs[1] if bad is trs[0] else trs[0]
        x, y = trs if c.rng("right_of_way_" + ev.event_id).integers(2) else trs[::-1]
        what = next(e for e in c.f.events if bad.actor_id in e.participants() and e.kind in ("red_light",
                                                                                             "wrong_way"))
        how = "crossed its stop line on red" if what.kind == "red_light" else "drove against the lane direction"
        yield _qa("right_of_way", f"Which of the {x.noun()} marked {x.mark} and the {y.noun()} marked {y.mark} had "
                  "the right of way?", str(good.mark),
                  f"The {bad.noun()} marked {bad.mark} {how} at {what.t_start:.1f} s, so the {good.noun()} marked "
                  f"{good.mark} had the right of way.", topic=ev.kind)


def _braked(c: _Ctx) -> Iterable[QAPair]:
    for ev, trs in _timed(c):
        if ev.kind not in PAIR_KINDS or len(trs) != 2:
            continue
        tc = conflict_time(c.f, ev)
        noun = "collision" if ev.kind == "collision" else "near miss"
        for tr, other in ((trs[0], trs[1]), (trs[1], trs[0])):
            if not tr.is_vehicle or not c.seen(tr, tc - 2.0, tc):
                continue
            yes, decel = brakes(tr, c.f.times, tc - 2.0, tc)
            yield _qa("braked", f"Did the vehicle marked {tr.mark} brake before the {noun} with the {other.noun()} "
                      f"marked {other.mark}?", "yes" if yes else "no",
                      f"Its strongest deceleration in the 2 s before {tc:.1f} s is {decel:.1f} m/s^2.",
                      topic=ev.kind)


def _pairs(c: _Ctx):
    for ev, trs in [(e, c.shown(e)) for e in c.f.events if e.kind in (*PAIR_KINDS, "noncollision")]:
        if trs is not None and len(trs) == 2 and all(t.is_vehicle for t in trs):
            yield ev, trs


def _counterfactual_stop(c: _Ctx) -> Iterable[QAPair]:
    for ev, trs in _pairs(c):
        tc = conflict_time(c.f, ev)
        for a, b in ((trs[0], trs[1]), (trs[1], trs[0])):
            times = {c.f.frame_at(tc - 1.0), c.f.frame_at(tc)}
            for e in c.f.events:
                if e.kind == "red_light" and a.actor_id in e.participants() and c.f.frame_at(e.t_start) > 0:
                    times.add(c.f.frame_at(e.t_start) - 1)  # the last frame before it crossed on red
            for k in sorted(times):
                if a.speed[k] <= MOVING or k > len(c.f.times) - 4:
                    continue  # it did stop there, or too late to matter: not a counterfactual
                if not clear_cut(frozen_collision, a, b, k):
                    continue
                hit = frozen_collision(a, b, k)
                why = (f"Stopped where it is at {c.f.times[k]:.1f} s, the {a.noun()} {a.mark} "
                       + (f"would still touch the {b.noun()} {b.mark} at {c.f.times[hit[0]]:.1f} s." if hit.size
                          else f"would stay clear of the path of the {b.noun()} {b.mark}."))
                yield _qa("counterfactual_stop", f"Had the vehicle marked {a.mark} stopped at {c.f.times[k]:.1f} s "
                          f"and stayed there, would it have collided with the {b.noun()} marked {b.mark}?",
                          "yes" if hit.size else "no", why)


def _counterfactual_course(c: _Ctx) -> Iterable[QAPair]:
    for ev, trs in _pairs(c):
        tc = conflict_time(c.f, ev)
        for a, b in ((trs[0], trs[1]), (trs[1], trs[0])):
            starts = {c.f.frame_at(max(0.0, tc - 1.5))}
            yes_b, _ = brakes(a, c.f.times, tc - 2.0, tc)
            if yes_b:  # from the frame it started braking
                s = np.linalg.norm(np.diff(a.center[:, :2], axis=0), axis=1) / np.maximum(np.diff(c.f.times), 1e-9)
                dec = np.flatnonzero((s[:-1] >= 1.0) &
                                     ((s[:-1] - s[1:]) / np.maximum(np.diff(c.f.times)[:-1], 1e-9) >= BRAKE_DECEL))
                if dec.size:
                    starts.add(int(dec[0]) + 1)
            for k in sorted(starts):
                if k > len(c.f.times) - 4 or a.speed[k] <= MOVING:
                    continue
                if not clear_cut(kept_course_collision, a, b, k, c.f.times):
                    continue
                hit = kept_course_collision(a, b, k, c.f.times)
                why = (f"Keeping {a.speed[k]:.1f} m/s and its heading from {c.f.times[k]:.1f} s, the {a.noun()} "
                       f"{a.mark} " + (f"would touch the {b.noun()} {b.mark} at {c.f.times[hit[0]]:.1f} s."
                                        if hit.size else f"would not touch the {b.noun()} {b.mark}."))
                yield _qa("counterfactual_course", f"Had the vehicle marked {a.mark} kept its speed and direction "
                          f"from {c.f.times[k]:.1f} s on, would it have hit the {b.noun()} marked {b.mark}?",
                          "yes" if hit.size else "no", why)


_GENERATORS = (
    _collision_pair, _event_yn, _event_which, _event_times, _time_bins, _event_order, _moving_after, _moving_state,
    _directions, _directions_image, _turn, _faster, _count_entering, _right_of_way, _braked, _counterfactual_stop,
    _counterfactual_course,
)
