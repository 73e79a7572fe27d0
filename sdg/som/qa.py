"""Question/answer pairs from the ground truth of one frame, with the hygiene the VLM benchmarks' post-mortems ask for.

Kinds (`QAPair.kind`, also the template id), each with one answer-format instruction (sdg.som.formats):
  count          "How many cars are visible?"  options 1-4, 5-8, ...  multiple choice -> "A".."D" (clean image)
  existence      "Is there a bus in the image?"  POPE-style negatives -> "yes" | "no"   (clean image)
  spatial        "Is the object marked 3 to the left of ... 5?"       -> "yes" | "no"   (SoM image)
  position       "Is the object marked 3 in the left or right half?"  -> "left"|"right" (SoM image)
  distance       "Which of the objects marked 3 and 5 is closer ...?" -> "3"            (SoM image)
  event          "Which marked objects are involved in the collision?" multiple choice -> "A".."D" (SoM image)
  event_kind     "Is the object marked 3 involved in a collision?"     -> "yes" | "no"   (SoM image)
  traffic_light  "What colour is the traffic light marked 4?"         -> "red" | "yellow" | "green" (SoM image)
Kinds in `MARKED_KINDS` name marks and must be shown with the Set-of-Mark image.

Ask only what the frame shows: only objects with a mark, a visible box, visibility >= min_visibility and not lost
in augmentation (survival >= SURVIVAL_LOST when checked) are asked about. A count is asked only for a category that
is present (absence is the existence question's job: asking "how many buses" of every frame made "0" a free
answer), exhaustively annotated (`exhaustive`) and has no borderline object (visible but below the threshold), so
every answer is unambiguous. Vans count as cars. Existence negatives are drawn POPE-style, cycling random / popular
(a fixed frequency prior) / adversarial (categories that co-occur with the present ones); `topic` holds the
category so that answers are balanced per category over the dataset (sdg.som.balance). A traffic light's colour is
asked only when its lit lamp is seen (`state_visible`: the face towards the camera, unoccluded, the colour still
visible after augmentation). An event is asked about when its participants are visible; the traffic light of a
red-light violation is implied by the event and need not be. Multiple-choice distractors are drawn from the frame's
marks without looking at the answer; letters are dealt by sdg.som.formats.shuffle_options.
Everything is a pure function of stable_seed(seed, frame_key) and the inputs.
"""
from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any, Iterable, Sequence

import numpy as np

from sdg.model import QAPair
from sdg.seeds import stable_seed
from sdg.som.formats import (
    INSTRUCTIONS,
    LETTERS,
    MC_INSTRUCTION,
    count_options,
    multiple_choice,
    render_prompt,
    to_aicity,
)
from sdg.som.records import box_of, get, mark_of
from sdg.som.survival import SURVIVAL_LOST

__all__ = ["INSTRUCTIONS", "LETTERS", "MC_INSTRUCTION", "MARKED_KINDS", "balance_yes_no", "majority_baseline",
           "make_qa", "render_prompt", "to_aicity"]

MIN_VISIBILITY = 0.3
MARKED_KINDS = frozenset({"spatial", "position", "distance", "event", "event_kind", "traffic_light"})

# question groups: category -> group; group -> (singular with article, plural)
_GROUP_OF = {
    "car": "car", "van": "car", "truck": "truck", "bus": "bus", "motorcycle": "motorcycle", "bicycle": "bicycle",
    "pedestrian": "pedestrian", "traffic_light": "traffic_light", "traffic_sign": "traffic_sign",
}
_NOUNS = {
    "car": ("a car", "cars"), "truck": ("a truck", "trucks"), "bus": ("a bus", "buses"),
    "motorcycle": ("a motorcycle", "motorcycles"), "bicycle": ("a bicycle", "bicycles"),
    "pedestrian": ("a pedestrian", "pedestrians"), "traffic_light": ("a traffic light", "traffic lights"),
    "traffic_sign": ("a traffic sign", "traffic signs"),
}
_ROAD_USERS = frozenset({"car", "truck", "bus", "motorcycle", "bicycle", "pedestrian"})
DEFAULT_EXHAUSTIVE = ("car", "van", "truck", "bus", "motorcycle", "bicycle", "pedestrian")
# POPE "popular": a fixed prior of how common each group is in traffic scenes, most common first
_POPULARITY = ("car", "pedestrian", "truck", "bus", "traffic_light", "bicycle", "motorcycle", "traffic_sign")
# POPE "adversarial": groups that co-occur with a present group
_COOCCUR = {
    "car": ("truck", "bus", "motorcycle"), "truck": ("car", "bus"), "bus": ("car", "truck", "pedestrian"),
    "pedestrian": ("bicycle", "car"), "bicycle": ("pedestrian", "motorcycle"), "motorcycle": ("bicycle", "car"),
    "traffic_light": ("traffic_sign", "car"), "traffic_sign": ("traffic_light",),
}
_EVENT_NOUN = {
    "collision": "the collision", "near_miss": "the near miss", "wrong_way": "the wrong-way driving",
    "red_light": "the red-light violation", "jaywalking": "the jaywalking",
}

_T_COUNT = (
    "How many {plural} are visible?",
    "How many {plural} can you see in this image?",
    "Count the {plural} in the scene. How many are there?",
)
_T_EXIST = (
    "Is there {a} in the image?",
    "Can you see {a} in this scene?",
    "Does this image contain {a}?",
)
_T_SPATIAL = (
    "Is the object marked {a} to the {rel} of the object marked {b}?",
    "In the image, is mark {a} on the {rel} side of mark {b}?",
    "Looking at the image, is object {a} further {rel} than object {b}?",
)
_T_POSITION = (
    "Is the object marked {m} in the left or the right half of the image?",
    "On which side of the image is the object marked {m}, left or right?",
)
_T_DISTANCE = (
    "Which of the objects marked {a} and {b} is {cmp} the camera?",
    "Of the marked objects {a} and {b}, which one is {cmp} the camera?",
    "Which is {cmp} the camera: mark {a} or mark {b}?",
)
_T_EVENT = (
    "Which marked objects are involved in {event}?",
    "Which of the marked objects take part in {event}?",
    "Select the marks of the objects involved in {event}.",
)
_T_EVENT_KIND = (
    "Is the object marked {m} involved in {event}?",
    "Does the object marked {m} take part in {event}?",
)
_EVENT_OPTION_YN = {
    "collision": "a collision", "near_miss": "a near miss", "wrong_way": "wrong-way driving",
    "red_light": "a red-light violation", "jaywalking": "jaywalking",
}
_T_LIGHT = (
    "What colour is the traffic light marked {m}?",
    "Which colour is the traffic light marked {m} showing?",
    "What is the state of the traffic light marked {m}?",
)


def _marks_text(marks: Sequence[int]) -> str:
    m = [str(x) for x in sorted(marks)]
    return m[0] if len(m) == 1 else ", ".join(m[:-1]) + " and " + m[-1]


def _pick(rng: np.random.Generator, templates: Sequence[str]) -> str:
    return templates[int(rng.integers(len(templates)))]


def _shuffled(rng: np.random.Generator, items: Sequence) -> list:
    return [items[i] for i in rng.permutation(len(items))]


def _mark_set_distractors(rng, pool: Sequence[int], answer: tuple[int, ...], n: int = 3) -> list[tuple[int, ...]]:
    """n distinct mark sets from `pool`, none equal to `answer`, uniformly drawn among the sets of the answer's size
    (the question's event already says how many take part, so a set of another size would be a giveaway); fewer
    when the pool is too small. Only the answer's size is used, never its members."""
    k = len(answer)
    out: list[tuple[int, ...]] = []
    for size in (k,):
        if size < 1 or size > len(pool) or len(out) >= n:
            continue
        if math.comb(len(pool), size) <= 512:
            cands = [c for c in itertools.combinations(sorted(pool), size) if c != answer and c not in out]
            cands = _shuffled(rng, cands)
        else:
            cands, seen = [], set(out) | {answer}
            for _ in range(64):
                c = tuple(sorted(int(x) for x in rng.choice(pool, size, replace=False)))
                if c not in seen:
                    seen.add(c)
                    cands.append(c)
        out += cands[: n - len(out)]
    return out


def make_qa(objects: Sequence[Any], events: Sequence[Any], *, seed: int, frame_key: str, width: int, height: int,
            min_visibility: float = MIN_VISIBILITY, max_per_kind: int = 3,
            exhaustive: Iterable[str] = DEFAULT_EXHAUSTIVE) -> list[QAPair]:
    """Q&A pairs for one frame. objects: ObjectAnnotation or dicts (mark, actor_id, category, bbox_2d, distance,
    visibility, state, state_visible, survival); events: EventRecord or dicts (kind, actor_ids, active).
    width/height: image size in pixels. `exhaustive`: categories whose every instance is annotated (only these are
    counted or said absent). At most `max_per_kind` pairs per kind; the order is kind by kind, as listed in the
    module docstring. Ids are "<frame_key>/<kind>/<k>". Multiple-choice pairs come with the correct option first
    (answer "A"): deal the letters with sdg.som.formats.shuffle_options over the clip."""
    if width <= 0 or height <= 0:
        raise ValueError(f"make_qa: image size must be positive, got {width}x{height} (frame {frame_key!r})")
    rng = np.random.default_rng(stable_seed(seed, frame_key))
    exhaustive_groups = {_GROUP_OF[c] for c in exhaustive if c in _GROUP_OF}

    good: list[Any] = []
    visible_groups: Counter = Counter()  # every object with a visible box, per group
    borderline: set[str] = set()
    for obj in objects:
        box = box_of(obj)
        if box is None or int(get(obj, "pixels", 1)) <= 0:
            continue
        group = _GROUP_OF.get(str(get(obj, "category", "")))
        ok = is_askable(obj, min_visibility)
        if group is not None:
            visible_groups[group] += 1
            if not ok:
                borderline.add(group)
        if ok:
            good.append(obj)
    good.sort(key=mark_of)
    good_groups = Counter(_GROUP_OF[str(get(o, "category"))] for o in good if str(get(o, "category")) in _GROUP_OF)

    qas: list[QAPair] = []
    qas += _count_qas(rng, good_groups, borderline, exhaustive_groups, max_per_kind)
    qas += _existence_qas(rng, good_groups, visible_groups, exhaustive_groups, max_per_kind)
    qas += _spatial_qas(rng, good, max_per_kind)
    qas += _position_qas(rng, good, width, max_per_kind)
    qas += _distance_qas(rng, good, max_per_kind)
    qas += _event_qas(rng, good, events, max_per_kind)
    qas += _light_qas(rng, good, max_per_kind)
    counter: Counter = Counter()
    out = []
    for qa in qas:
        k = counter[qa.kind]
        counter[qa.kind] += 1
        out.append(qa.model_copy(update={"template": qa.template or qa.kind, "id": f"{frame_key}/{qa.kind}/{k}"}))
    return out


def is_askable(obj: Any, min_visibility: float = MIN_VISIBILITY) -> bool:
    """An object a question may name: a mark, a visible box with pixels, visibility >= min_visibility, not lost
    in augmentation."""
    if mark_of(obj) <= 0 or box_of(obj) is None or int(get(obj, "pixels", 1)) <= 0:
        return False
    survival = get(obj, "survival")
    return float(get(obj, "visibility", 0.0)) >= min_visibility and \
        (survival is None or float(survival) >= SURVIVAL_LOST)


def _count_qas(rng, good_groups, borderline, exhaustive_groups, n) -> list[QAPair]:
    """Counts of present categories as multiple choice over the block of four counts the answer is in (1-4,
    5-8, ...; sdg.som.formats.count_options): never 0, since only present categories are counted."""
    present = [g for g in _POPULARITY if g in exhaustive_groups and good_groups[g] > 0 and g not in borderline]
    out = []
    for g in _shuffled(rng, present)[:n]:
        answer, distractors = count_options(good_groups[g], lowest=1)
        out.append(multiple_choice(_pick(rng, _T_COUNT).format(plural=_NOUNS[g][1]), answer, distractors,
                                   kind="count", topic=g))
    return out


def _existence_qas(rng, good_groups, visible_groups, exhaustive_groups, n) -> list[QAPair]:
    positives = _shuffled(rng, [g for g in _POPULARITY if good_groups[g] > 0])
    absent = [g for g in _POPULARITY if g in exhaustive_groups and visible_groups[g] == 0]
    n_pos, n_neg = min(n, len(positives)), min(n, len(absent))
    if n_pos and n_neg:
        n_pos = n_neg = min(n_pos, n_neg)
    else:  # a frame with only one side gives one question; the dataset selection evens the rest
        n_pos, n_neg = min(1, n_pos), min(1, n_neg)
    negatives: list[str] = []
    strategies = ("random", "popular", "adversarial")
    start = int(rng.integers(3))
    for i in range(n_neg):
        left = [g for g in absent if g not in negatives]
        strategy = strategies[(start + i) % 3]
        if strategy == "popular":
            g = left[0]  # `absent` is in popularity order
        elif strategy == "adversarial":
            co = [c for p in _POPULARITY if good_groups[p] > 0 for c in _COOCCUR[p] if c in left]
            g = co[0] if co else left[int(rng.integers(len(left)))]
        else:
            g = left[int(rng.integers(len(left)))]
        negatives.append(g)
    items = [(g, "yes") for g in positives[:n_pos]] + [(g, "no") for g in negatives]
    return [QAPair(question=_pick(rng, _T_EXIST).format(a=_NOUNS[g][0]), answer=ans, kind="existence", topic=g,
                   format="yes_no") for g, ans in _shuffled(rng, items)]


def _spatial_qas(rng, good, n) -> list[QAPair]:
    pairs = []
    for a, b in itertools.combinations(good, 2):
        ba, bb = box_of(a), box_of(b)
        if ba[2] <= bb[0]:
            pairs.append((a, b))  # a entirely left of b
        elif bb[2] <= ba[0]:
            pairs.append((b, a))
    pairs = _shuffled(rng, pairs)[:n]
    out = []
    want_yes = bool(rng.integers(2))
    for left, right in pairs:
        rel = ("left", "right")[int(rng.integers(2))]
        # "X rel-of Y" is true for (left, left-of, right) and (right, right-of, left)
        first_is_left = (rel == "left") == want_yes
        x, y = (left, right) if first_is_left else (right, left)
        q = _pick(rng, _T_SPATIAL).format(a=mark_of(x), b=mark_of(y), rel=rel)
        out.append(QAPair(question=q, answer="yes" if want_yes else "no", kind="spatial", format="yes_no"))
        want_yes = not want_yes
    return out


def _position_qas(rng, good, width, n) -> list[QAPair]:
    half = width / 2.0
    cands = []
    for o in good:
        x1, _, x2, _ = box_of(o)
        if x2 <= half:
            cands.append((o, "left"))
        elif x1 >= half:
            cands.append((o, "right"))
    return [QAPair(question=_pick(rng, _T_POSITION).format(m=mark_of(o)), answer=side, kind="position",
                   format="short") for o, side in _shuffled(rng, cands)[:n]]


def _distance_qas(rng, good, n) -> list[QAPair]:
    pairs = []
    for a, b in itertools.combinations(good, 2):
        da, db = float(get(a, "distance", 0.0)), float(get(b, "distance", 0.0))
        lo, hi = min(da, db), max(da, db)
        if lo > 0 and hi >= 1.3 * lo and hi - lo >= 2.0:  # unambiguous: 30 % and 2 m apart
            pairs.append((a, b) if da < db else (b, a))
    out = []
    for near, far in _shuffled(rng, pairs)[:n]:
        closer = bool(rng.integers(2))
        x, y = (near, far) if rng.integers(2) else (far, near)  # the answer is not always named first
        q = _pick(rng, _T_DISTANCE).format(a=mark_of(x), b=mark_of(y),
                                           cmp="closer to" if closer else "farther from")
        out.append(QAPair(question=q, answer=str(mark_of(near if closer else far)), kind="distance", format="short"))
    return out


def event_participants(kind: str, actor_ids: Sequence[int]) -> list[int]:
    """The actors a question about an event names: all of them, except the traffic light of a red-light violation
    (the event names the vehicle first, then the light it ran), which the event implies."""
    ids = [int(a) for a in actor_ids]
    return ids[:1] if kind == "red_light" else ids


def _event_qas(rng, good, events, n) -> list[QAPair]:
    mark_by_actor = {int(get(o, "actor_id", 0)): mark_of(o) for o in good}
    pool = sorted(mark_by_actor.values())
    involved_q = []
    for ev in events:
        if not bool(get(ev, "active", False)):
            continue
        kind = str(get(ev, "kind", ""))
        if kind not in _EVENT_NOUN:
            continue  # hard negatives are not events a viewer sees happen
        actors = event_participants(kind, get(ev, "actor_ids", []))
        if not actors or any(a not in mark_by_actor for a in actors):
            continue  # a participant is not clearly visible: the question would not be answerable
        answer = tuple(sorted(mark_by_actor[a] for a in actors))
        distractors = _mark_set_distractors(rng, pool, answer)
        if len(distractors) == 3:
            q = _pick(rng, _T_EVENT).format(event=_EVENT_NOUN.get(kind, "the " + kind.replace("_", " ")))
            mc = multiple_choice(q, _marks_text(answer), [_marks_text(d) for d in distractors], kind="event",
                                 topic=kind)
            if mc is not None:
                involved_q.append(mc)
    road_users = {int(get(o, "actor_id", 0)) for o in good if _GROUP_OF.get(str(get(o, "category", ""))) in _ROAD_USERS}
    return involved_q[:n] + _event_kind_qas(rng, mark_by_actor, road_users, events, n)


def _event_kind_qas(rng, mark_by_actor: dict[int, int], road_users: set[int], events, n) -> list[QAPair]:
    """"Is the object marked m involved in a collision?" (yes/no, topic = the event kind) about one mark: "yes" for
    a participant of an active event of that kind whose participants are all clearly visible, each paired with a "no"
    about a road user of the same frame in no event of that kind anywhere in the clip (often a participant of another
    event: a hard negative); a "yes" without such a partner is not asked, so every frame asks as many of each and a
    mark number is as likely on either side. Asked as yes/no per kind, balanced per kind in every split, so the kind
    named says nothing: a multiple choice over kinds leaked whenever a split's kinds differ from the train split's
    (few scenarios), and naming the event's set of marks would tell a pair event from a single one."""
    yes: list[tuple[int, str]] = []
    in_kind: dict[str, set[int]] = {}
    for ev in events:
        kind = str(get(ev, "kind", ""))
        ids = [int(a) for a in get(ev, "actor_ids", [])]
        if kind not in _EVENT_NOUN:
            continue
        who = event_participants(kind, ids)
        in_kind.setdefault(kind, set()).update(ids)  # every actor of the event, active or not: never a "no"
        if bool(get(ev, "active", False)) and all(a in mark_by_actor for a in who):
            yes += [(a, kind) for a in who if a in road_users]
    items = []
    for a, kind in _shuffled(rng, sorted(set(yes)))[:n]:
        others = [o for o in sorted(road_users) if o not in in_kind.get(kind, set())]
        if others:  # a "yes" only with its "no" from the same frame: the marks of both are drawn alike
            items += [(a, kind, "yes"), (others[int(rng.integers(len(others)))], kind, "no")]
    return [QAPair(question=_pick(rng, _T_EVENT_KIND).format(m=mark_by_actor[a], event=_EVENT_OPTION_YN[kind]),
                   answer=ans, kind="event_kind", topic=kind, format="yes_no")
            for a, kind, ans in _shuffled(rng, items)]


def _light_qas(rng, good, n) -> list[QAPair]:
    out = []
    lights = [o for o in good if str(get(o, "category", "")) == "traffic_light" and get(o, "state_visible") is True
              and str(get(o, "state", "")).lower() in ("red", "yellow", "green")]
    for o in _shuffled(rng, lights)[:n]:
        out.append(QAPair(question=_pick(rng, _T_LIGHT).format(m=mark_of(o)), answer=str(get(o, "state")).lower(),
                          kind="traffic_light", format="short"))
    return out


def balance_yes_no(frames: Sequence[Sequence[QAPair]], *, seed: int = 0) -> list[list[QAPair]]:
    """Balance yes/no answers over a clip: `frames` holds each frame's pairs; for every template whose answers
    include "yes" and "no", drop (seeded, uniformly among them) the majority answer's surplus so both
    counts are equal. Returns new per-frame lists in the same order; other pairs are kept. (Balance per topic, e.g.
    per category of an existence question, needs the whole dataset: sdg.som.balance.)"""
    by_kind: dict[tuple[str], dict[str, list[tuple[int, int]]]] = {}
    for fi, qas in enumerate(frames):
        for qi, qa in enumerate(qas):
            if qa.answer in ("yes", "no"):
                key = (qa.template or qa.kind,)
                by_kind.setdefault(key, {"yes": [], "no": []})[qa.answer].append((fi, qi))
    drop: set[tuple[int, int]] = set()
    for kind in sorted(by_kind):
        yes, no = by_kind[kind]["yes"], by_kind[kind]["no"]
        major = yes if len(yes) > len(no) else no
        surplus = abs(len(yes) - len(no))
        if surplus:
            rng = np.random.default_rng(stable_seed(seed, "balance_yes_no", *kind))
            for i in rng.choice(len(major), surplus, replace=False):
                drop.add(major[int(i)])
    return [[qa for qi, qa in enumerate(qas) if (fi, qi) not in drop] for fi, qas in enumerate(frames)]


def majority_baseline(qas: Iterable[QAPair]) -> dict[str, float]:
    """Per kind, the accuracy of a blind (text-only) guesser that always gives the kind's most frequent answer:
    what a model scores without looking at the image. 0.5 for balanced yes/no, ~0.25 for well-shuffled choices."""
    answers: dict[str, Counter] = {}
    for qa in qas:
        answers.setdefault(qa.kind, Counter())[qa.answer] += 1
    return {k: c.most_common(1)[0][1] / sum(c.values()) for k, c in sorted(answers.items())}
