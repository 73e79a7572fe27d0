"""An independent checker of every generated answer of an sdg output folder, from the stored Parquet columns only.

It does not import the generator (sdg.som, sdg.groundtruth): each answer is recomputed from the columns (objects,
events, timestamps, tracks, camera) and the written definitions (the docstrings of sdg.som.qa, sdg.som.tracks and
sdg.som.video_qa), with its own geometry. Run it on any output folder:

    python tests/qa_checker.py out/demo

`check_output(out_dir)` returns a report {checked: {template: n}, errors: [...]}; no error means every answer agrees.
"""
from __future__ import annotations

import glob
import json
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq

from sdg.codec import decode_array, decode_image

LETTERS = "ABCD"
VEHICLES = {"car", "van", "truck", "bus", "motorcycle", "bicycle"}
GROUPS = {"cars": {"car", "van"}, "trucks": {"truck"}, "buses": {"bus"}, "motorcycles": {"motorcycle"},
          "bicycles": {"bicycle"}, "pedestrians": {"pedestrian"}, "traffic lights": {"traffic_light"},
          "traffic signs": {"traffic_sign"}}
SINGULAR = {"a car": "cars", "a truck": "trucks", "a bus": "buses", "a motorcycle": "motorcycles",
            "a bicycle": "bicycles", "a pedestrian": "pedestrians", "a traffic light": "traffic lights",
            "a traffic sign": "traffic signs"}
EVENT_WORDS = {"the collision": "collision", "the near miss": "near_miss", "the wrong-way driving": "wrong_way",
               "the red-light violation": "red_light", "the jaywalking": "jaywalking"}
EVENT_KIND_WORDS = {"a collision": "collision", "a near miss": "near_miss", "wrong-way driving": "wrong_way",
                    "a red-light violation": "red_light", "jaywalking": "jaywalking"}


def _count_choice(qa: dict, truth: int, lowest: int) -> bool:
    """A count asked as multiple choice: the options are the four counts lowest + 4k .. lowest + 4k + 3 holding the
    true count, and the answer's letter points at it."""
    block = {str(v) for v in range(truth - (truth - lowest) % 4, truth - (truth - lowest) % 4 + 4)}
    return set(qa["choices"]) == block and qa["choices"][LETTERS.index(qa["answer"])] == str(truth)


def ints(text: str) -> list[int]:
    return [int(x) for x in re.findall(r"(?<![\d.])\d+(?![\d.])", text)]


def askable(o: dict, use_survival: bool = True) -> bool:
    b = o.get("bbox_2d")
    if not o.get("mark") or b is None or len(b) != 4 or not (b[2] > b[0] and b[3] > b[1]) \
            or (o.get("pixels") or 0) <= 0:
        return False
    s = o.get("survival") if use_survival else None
    return (o.get("visibility") or 0.0) >= 0.3 and (s is None or s >= 0.3)


def participants(ev: dict) -> list[int]:
    ids = list(ev["actor_ids"])
    return ids[:1] if ev["kind"] == "red_light" else ids


# ------------------------------------------------------------------------------------------------ frames
def lamp_pixels_show(image: np.ndarray, instance: np.ndarray, actor_id: int, colour: str, inset: int = 0,
                     dominant: bool = True) -> bool:
    """The light's own pixels (`inset` px in from its outline) include lit-lamp pixels of `colour` (bright,
    saturated, right hue; with `dominant`, at least as many as of any other lamp colour). Hue ranges read off the
    renderer's lamp colours."""
    mask = instance == actor_id
    if inset:
        mask = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_CROSS, (2 * inset + 1,) * 2),
                         borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
    if not mask.any():
        return False
    px = image[mask].astype(np.float32) / 255.0
    hsv = cv2.cvtColor(px.reshape(-1, 1, 3), cv2.COLOR_RGB2HSV).reshape(-1, 3)  # H in degrees for float input
    h, s, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    lit = (s >= 0.35) & (v >= 0.3)
    names = {"red": lit & ((h >= 340) | (h < 22)), "yellow": lit & (h >= 22) & (h < 75),
             "green": lit & (h >= 75) & (h < 200)}
    counts = {k: int(m.sum()) for k, m in names.items()}
    return counts[colour] >= 1 and (not dominant or counts[colour] >= max(c for k, c in counts.items() if k != colour))


def check_frame_qa(row: dict, errors: list, checked: Counter) -> None:
    objs = row["objects"] or []
    good = [o for o in objs if askable(o)]
    by_mark = {o["mark"]: o for o in good}
    W = row["width"]
    active = [e for e in row["events"] or [] if e["active"]]
    image = instance = som = None
    for qa in row["qa"] or []:
        t, q, a = qa["template"] or qa["kind"], qa["question"], qa["answer"]
        checked[t] += 1
        where = f"{qa['id']}: {q} -> {a}"
        try:
            if t == "count":
                plural = next(p for p in GROUPS if re.search(rf"\b{p}\b", q))
                truth = sum(o["category"] in GROUPS[plural] for o in good)
                assert truth > 0 and _count_choice(qa, truth, lowest=1), f"count {truth}"
            elif t == "existence":
                noun = next(n for n in SINGULAR if re.search(rf"\b{n}\b", q))
                cats = GROUPS[SINGULAR[noun]]
                if a == "yes":
                    assert any(o["category"] in cats for o in good), "no such object"
                else:
                    assert not any(o["category"] in cats and o.get("bbox_2d") for o in objs), "object visible"
            elif t == "spatial":
                m1, m2 = ints(q)[:2]
                b1, b2 = by_mark[m1]["bbox_2d"], by_mark[m2]["bbox_2d"]
                left_of = b1[2] <= b2[0]
                right_of = b2[2] <= b1[0]
                assert left_of or right_of, "boxes overlap horizontally"
                rel = "left" if re.search(r"\bleft\b", q) else "right"
                assert a == ("yes" if (left_of if rel == "left" else right_of) else "no")
            elif t == "position":
                b = by_mark[ints(q)[0]]["bbox_2d"]
                assert a == ("left" if b[2] <= W / 2 else "right" if b[0] >= W / 2 else "?")
            elif t == "distance":
                m1, m2 = ints(q)[:2]
                d1, d2 = by_mark[m1]["distance"], by_mark[m2]["distance"]
                want_close = "closer" in q
                assert a == str((m1 if d1 < d2 else m2) if want_close else (m1 if d1 > d2 else m2))
            elif t == "event":
                kind = next(k for w, k in EVENT_WORDS.items() if w in q)
                opt = qa["choices"][LETTERS.index(a)]
                truths = []
                for e in active:
                    if e["kind"] == kind:
                        ms = [next((o["mark"] for o in good if o["actor_id"] == i), None) for i in participants(e)]
                        if None not in ms:
                            truths.append(sorted(ms))
                assert sorted(ints(opt)) in truths, f"truth {truths}"
                assert sum(sorted(ints(c)) in truths for c in qa["choices"]) == 1, "several true options"
            elif t == "event_kind":  # one mark, one kind: yes = in an active, fully visible event of it
                marks = ints(q)
                assert len(marks) == 1
                actor = by_mark[marks[0]]["actor_id"]
                kind = next(k for w, k in EVENT_KIND_WORDS.items() if w in q)
                evs = [e for e in row["events"] or [] if e["kind"] == kind]
                if a == "yes":
                    assert any(e["active"] and actor in participants(e) and
                               all(i in {o["actor_id"] for o in good} for i in participants(e)) for e in evs)
                else:
                    assert a == "no" and not any(actor in e["actor_ids"] for e in evs), "takes part in one"
            elif t == "traffic_light":
                o = by_mark[ints(q)[0]]
                assert o["category"] == "traffic_light" and o["state_visible"] is True and o["state"].lower() == a
                if image is None:
                    image, instance = decode_image(row["image"]), decode_array(row["instance"])
                    som = decode_image(row["som_image"])
                assert lamp_pixels_show(image, instance, o["actor_id"], a), "colour not visible in the frame"
                # and still there in the Set-of-Mark image the question is shown with (inside the light's outline,
                # whose own colour may bleed into a thin pole: presence, not dominance)
                assert lamp_pixels_show(som, instance, o["actor_id"], a, inset=1, dominant=False), \
                    "colour not visible in SoM"
                checked["traffic_light_pixels"] += 1
            else:
                raise AssertionError(f"unknown frame template {t}")
        except (AssertionError, KeyError, StopIteration, ValueError, IndexError) as e:
            errors.append(f"{where}: {type(e).__name__} {e}")


# ------------------------------------------------------------------------------------------------ videos
GROW = 0.05  # "touching": footprints grown by 5 cm each overlap (sdg.som.tracks' definition of collide)


def rect(x, y, yaw_deg, length, width, grow=GROW):
    length, width = length + 2 * grow, width + 2 * grow
    h = math.radians(yaw_deg)
    f = np.array([math.cos(h), math.sin(h)])
    s = np.array([-math.sin(h), math.cos(h)])
    c = np.array([x, y])
    return np.array([c + f * length / 2 + s * width / 2, c + f * length / 2 - s * width / 2,
                     c - f * length / 2 - s * width / 2, c - f * length / 2 + s * width / 2], np.float32)


def overlap(r1, r2) -> bool:
    """Convex polygons intersect with a positive area (OpenCV's polygon intersection)."""
    area, _ = cv2.intersectConvexConvex(r1.astype(np.float32), r2.astype(np.float32))
    return area > 1e-6


class Video:
    def __init__(self, row: dict, frames: list[dict]):
        self.row = row
        self.t = np.array(row["timestamps"]) - row["timestamps"][0]
        self.tracks = {tr["actor_id"]: tr for tr in row["tracks"]}
        self.by_mark = {tr["mark"]: tr for tr in row["tracks"] if tr["mark"] > 0}
        self.events = row["events"]
        use_s = row["variant"] >= 0
        self.ask = {aid: np.zeros(len(self.t), bool) for aid in self.tracks}
        for k, fr in enumerate(frames):
            for o in fr["objects"] or []:
                if o["actor_id"] in self.ask:
                    self.ask[o["actor_id"]][k] = askable(o, use_s)
        self.K = np.array(row["intrinsics"]).reshape(3, 3)
        self.w2c = np.array(row["world_to_camera"]).reshape(4, 4)
        self.cam = np.array(row["camera_location"])

    def xy(self, tr):
        return np.stack([tr["x"], tr["y"]], 1).astype(np.float64)

    def rects(self, tr, xy=None, yaw=None):
        xy = self.xy(tr) if xy is None else xy
        yaw = tr["yaw"] if yaw is None else yaw
        return [rect(xy[k, 0], xy[k, 1], yaw[k], tr["size"][0], tr["size"][1]) for k in range(len(xy))]

    def collide(self, a, b, xy=None, yaw=None) -> list[int]:
        ra, rb = self.rects(a, xy, yaw), self.rects(b)
        return [k for k in range(len(ra)) if overlap(ra[k], rb[k])]

    def step_speed(self, tr):
        return np.linalg.norm(np.diff(self.xy(tr), axis=0), axis=1) / np.diff(self.t)

    def braked(self, tr, t0, t1) -> bool:
        s = self.step_speed(tr)
        for k in range(len(s) - 1):
            if self.t[k] >= t0 - 1e-6 and self.t[k + 2] <= t1 + 1e-6 and s[k] >= 1.0 and \
                    (s[k] - s[k + 1]) / (self.t[k + 1] - self.t[k]) >= 3.0:
                return True
        return False

    def conflict(self, ev) -> float:
        if ev["kind"] in ("near_miss", "noncollision"):
            a, b = (self.tracks[i] for i in participants(ev)[:2])
            d = np.linalg.norm(self.xy(a) - self.xy(b), axis=1)
            span = [k for k in range(len(self.t)) if ev["t_start"] - 1e-5 <= self.t[k] <= ev["t_end"] + 1e-5]
            return float(self.t[min(span, key=lambda k: d[k])])
        return float(ev["t_start"])

    def pair_conflict(self, a, b) -> float:
        """The conflict time of the collision or near miss between the tracks ``a`` and ``b``."""
        ids = sorted([a["actor_id"], b["actor_id"]])
        ev = next(e for e in self.events if e["kind"] in ("collision", "near_miss") and sorted(participants(e)) == ids)
        return self.conflict(ev)

    def frame_of_time(self, text: str) -> int:
        t = float(text)
        ks = [k for k in range(len(self.t)) if abs(self.t[k] - t) < 0.05 + 1e-9]
        assert ks, f"no frame at {t}"
        return ks[0]

    def find_event(self, desc: str):
        kinds = [("collision between", "collision"), ("near miss between", "near_miss"),
                 ("crossing the stop line on red", "red_light"), ("driving against traffic", "wrong_way"),
                 ("walking on the road away from a crosswalk", "jaywalking")]
        kind = next(k for w, k in kinds if w in desc)
        marks = sorted(ints(desc))
        hits = [e for e in self.events if e["kind"] == kind and
                sorted(self.tracks[i]["mark"] for i in participants(e)) == marks]
        assert len(hits) == 1, f"{len(hits)} events match {desc!r}"
        return hits[0]


def check_video_qa(video: Video, errors: list, checked: Counter) -> None:
    row = video.row
    t = video.t
    for qa in row["qa"] or []:
        tpl, q, a = qa["template"], qa["question"], qa["answer"]
        checked[tpl] += 1
        where = f"{qa['id']}: {q} -> {a}"
        try:
            named = [video.by_mark[m] for m in ints(q) if m in video.by_mark]
            ans_text = qa["choices"][LETTERS.index(a)] if qa["choices"] else a
            if tpl == "collision_pair":
                m1, m2 = ints(q)[:2]
                A, B = video.by_mark[m1], video.by_mark[m2]
                assert a == ("Yes" if video.collide(A, B) else "No")
                eid = qa["video"].split(":", 1)[1]
                ev = next(e for e in video.events if e["event_id"] == eid)
                assert sorted(ev["actor_ids"]) == sorted([A["actor_id"], B["actor_id"]]), "wrong event video"
            elif tpl == "event_yn":
                kind = qa["topic"]
                ms = ints(q)
                ids = sorted(video.by_mark[m]["actor_id"] for m in ms)
                truth = any(e["kind"] == kind and sorted(participants(e)) == ids for e in video.events) if \
                    kind == "near_miss" else any(e["kind"] == kind and ids[0] in participants(e) for e in video.events)
                assert a == ("yes" if truth else "no")
            elif tpl == "event_which":
                kind = qa["topic"]
                opts = [video.by_mark[ints(c)[0]]["actor_id"] for c in qa["choices"]]
                if kind == "collision":
                    ref = video.by_mark[ints(q)[0]]["actor_id"]
                    truth = {i for e in video.events if e["kind"] == "collision" and ref in e["actor_ids"]
                             for i in e["actor_ids"] if i != ref}
                else:
                    truth = {participants(e)[0] for e in video.events if e["kind"] == kind}
                assert [o in truth for o in opts].count(True) == 1 and opts[LETTERS.index(a)] in truth
            elif tpl in ("event_start_time", "event_end_time", "event_start_frame"):
                ev = video.find_event(q)
                if tpl == "event_start_time":  # one decimal, rounded to nearest
                    assert ev["t_start"] > 1e-6 and abs(float(a) - ev["t_start"]) <= 0.05 + 1e-4 and \
                        re.fullmatch(r"\d+\.\d", a)
                elif tpl == "event_end_time":
                    assert ev["t_end"] < t[-1] - 1e-6 and abs(float(a) - ev["t_end"]) <= 0.05 + 1e-4 and \
                        re.fullmatch(r"\d+\.\d", a)
                else:
                    assert a == str(int(np.flatnonzero(t >= ev["t_start"] - 1e-6)[0]))
            elif tpl == "event_time_bin":
                ev = video.find_event(q)
                lo, hi = (float(x) for x in re.findall(r"\d+\.\d", ans_text))
                assert lo <= ev["t_start"] + 1e-6 < hi
                for c in qa["choices"]:
                    if c != ans_text:
                        lo, hi = (float(x) for x in re.findall(r"\d+\.\d", c))
                        assert not (lo <= ev["t_start"] + 1e-6 < hi)
            elif tpl == "event_order":
                da, db = re.match(r"Does (.*) begin before (.*)\?$", q).groups()
                ea, eb = video.find_event(da), video.find_event(db)
                assert a == ("yes" if ea["t_start"] < eb["t_start"] else "no")
            elif tpl == "moving_after":
                tr = named[0]
                kind = "collision" if "collision" in q else "near_miss"
                ev = next(e for e in video.events if e["kind"] == kind and tr["actor_id"] in e["actor_ids"])
                k = int(np.argmin(np.abs(t - (video.conflict(ev) + 1.0))))
                assert video.ask[tr["actor_id"]][k]
                assert a == ("yes" if tr["speed"][k] > 0.5 else "no" if tr["speed"][k] < 0.2 else "?")
            elif tpl == "moving_state":
                k, m = ints(q)[0], int(re.search(r"marked (\d+)", q).group(1))
                tr = video.by_mark[m]
                assert video.ask[tr["actor_id"]][k]
                assert a == ("moving" if tr["speed"][k] > 0.5 else "stopped" if tr["speed"][k] < 0.2 else "?")
            elif tpl in ("direction_camera", "direction_image"):
                tr = named[0]
                f = np.flatnonzero(video.ask[tr["actor_id"]] & (np.array(tr["speed"]) > 0.5))
                assert len(f) >= 5
                c = np.stack([tr["x"], tr["y"], tr["z"]], 1)
                if tpl == "direction_camera":
                    d = np.linalg.norm(c - video.cam, axis=1)
                    delta = d[f[-1]] - d[f[0]]
                    assert abs(delta) >= 3.0 and a == ("toward" if delta < 0 else "away")
                else:
                    pc = c @ video.w2c[:3, :3].T + video.w2c[:3, 3]
                    u = video.K[0, 0] * pc[:, 0] / pc[:, 2] + video.K[0, 2]
                    delta = u[f[-1]] - u[f[0]]
                    assert abs(delta) >= 0.08 * row["width"]
                    assert a == ("left to right" if delta > 0 else "right to left")
            elif tpl == "turn":
                tr = named[0]
                sp = np.array(tr["speed"])
                mv = np.flatnonzero(sp > 0.5)
                if not len(mv):
                    truth = "stays stopped"
                else:
                    h = (tr["yaw"][mv[-1]] - tr["yaw"][mv[0]] + 180) % 360 - 180
                    path = np.linalg.norm(np.diff(video.xy(tr)[mv[0]:mv[-1] + 1], axis=0), axis=1).sum()
                    truth = ("turns right" if h >= 45 else "turns left" if h <= -45 else
                             "goes straight" if abs(h) <= 15 and path >= 5 else None)
                assert ans_text == truth
            elif tpl == "faster":
                A, B = named[:2]
                both = video.ask[A["actor_id"]] & video.ask[B["actor_id"]]
                va, vb = np.array(A["speed"])[both].mean(), np.array(B["speed"])[both].mean()
                assert both.sum() >= 5 and max(va, vb) >= 1.5 * min(va, vb) and abs(va - vb) >= 2.0
                assert a == str(A["mark"] if va > vb else B["mark"])
                nouns = re.findall(r"the (\w+(?: \w+)?) marked \d+", q)
                assert len(nouns) == 2 and nouns[0] == nouns[1], f"nouns {nouns}"  # the nouns say nothing
            elif tpl == "count_entering":
                polys = [np.array(p).reshape(-1, 2).astype(np.float32) for p in row["junction"]]
                n = 0
                for aid, tr in video.tracks.items():
                    if tr["category"] not in VEHICLES:
                        continue
                    inside = [any(cv2.pointPolygonTest(p, (float(x), float(y)), False) > 0 for p in polys)
                              for x, y in video.xy(tr)]
                    entries = [k for k in range(1, len(inside)) if inside[k] and not inside[k - 1]]
                    n += bool(entries)
                    assert all(video.ask[aid][k] for k in entries), "an entry is not visible"
                assert _count_choice(qa, n, lowest=0), f"count {n}"
            elif tpl == "right_of_way":
                A, B = named[:2]
                tc = video.pair_conflict(A, B)
                bad = [tr for tr in (A, B) if any(e["kind"] in ("red_light", "wrong_way") and
                                                  tr["actor_id"] in participants(e) and e["t_start"] <= tc + 1e-6
                                                  for e in video.events)]
                assert len(bad) == 1
                assert a == str((B if bad[0] is A else A)["mark"])
            elif tpl == "braked":
                A, B = named[:2]
                tc = video.pair_conflict(A, B)
                assert a == ("yes" if video.braked(A, tc - 2.0, tc) else "no")
            elif tpl == "counterfactual_stop":
                A, B = named[:2]
                k = video.frame_of_time(re.search(r"stopped at (\d+\.\d) s", q).group(1))
                xy = video.xy(A).copy()
                yaw = np.array(A["yaw"], float)
                xy[k:], yaw[k:] = xy[k], yaw[k]
                assert a == ("yes" if video.collide(A, B, xy, yaw) else "no")
            elif tpl == "counterfactual_course":
                A, B = named[:2]
                k = video.frame_of_time(re.search(r"from (\d+\.\d) s on", q).group(1))
                k1 = min(k + 1, len(t) - 1)
                k0 = k1 - 1
                xy0 = video.xy(A)
                v = (xy0[k1] - xy0[k0]) / (t[k1] - t[k0])
                xy = xy0.copy()
                xy[k:] = xy0[k] + (t[k:, None] - t[k]) * v
                yaw = np.array(A["yaw"], float)
                yaw[k:] = yaw[k]
                assert a == ("yes" if video.collide(A, B, xy, yaw) else "no")
            else:
                raise AssertionError(f"unknown video template {tpl}")
            for tr in named:  # every object a question names is shown by the video
                assert video.ask[tr["actor_id"]].any(), f"mark {tr['mark']} never askable"
        except (AssertionError, KeyError, StopIteration, ValueError, IndexError, AttributeError, TypeError) as e:
            errors.append(f"{where}: {type(e).__name__} {e}")


def check_phases(video: Video, errors: list, checked: Counter) -> None:
    t = video.t
    by_event = defaultdict(list)
    for p in video.row["phases"]:
        by_event[p["event_id"]].append(p)
        checked["phase"] += 1
    ids = {e["event_id"] for e in video.events}
    for eid, ps in by_event.items():
        labels = [p["label"] for p in ps]
        if eid not in ids or labels != sorted(set(labels)):
            errors.append(f"phases of {eid}: unknown event or labels out of order {labels}")
        for p in ps:
            if not (-1e-4 <= p["start_time"] < p["end_time"] <= t[-1] + 1e-4):
                errors.append(f"phase {eid}/{p['phase']}: span {p['start_time']}..{p['end_time']}")
            facts = json.loads(p["facts"])
            for key, field in (("vehicle", "caption_vehicle"), ("pedestrian", "caption_pedestrian")):
                f = facts.get(key)
                speed = str(f.get("speed_kmh", "")) if f and f.get("motion") != "stopped" else ""
                if f and (f"marked {f['mark']}" not in p[field] or speed not in p[field]):
                    errors.append(f"phase {eid}/{p['phase']}: {field} does not state its facts: {p[field]}")


def check_output(out_dir) -> dict:
    out_dir = Path(out_dir)
    errors: list[str] = []
    checked: Counter = Counter()
    frames_by_clip: dict[tuple, list[dict]] = defaultdict(list)
    for path in sorted(glob.glob(str(out_dir / "shards" / "*.parquet"))):
        for row in pq.read_table(path).to_pylist():
            check_frame_qa(row, errors, checked)
            frames_by_clip[(row["clip_id"], row["variant"])].append(
                {"frame_index": row["frame_index"], "objects": row["objects"]})
    for path in sorted(glob.glob(str(out_dir / "videos" / "*.parquet"))):
        cols = [c for c in pq.read_schema(path).names if c not in ("som_video", "event_videos")]
        for row in pq.read_table(path, columns=cols).to_pylist():
            src = frames_by_clip[(row["clip_id"], max(0, row["variant"]))]
            frames = sorted(src, key=lambda r: r["frame_index"])
            video = Video(row, frames)
            for tr in row["tracks"]:  # the stored askable flags agree with the frame rows
                if tr["visible"] and list(video.ask[tr["actor_id"]]) != list(tr["visible"]):
                    errors.append(f"{row['clip_id']}/{row['variant']}: visible flags of actor {tr['actor_id']} "
                                  "disagree with the frame rows")
            check_video_qa(video, errors, checked)
            check_phases(video, errors, checked)
    return {"checked": dict(sorted(checked.items())), "errors": errors}


if __name__ == "__main__":
    report = check_output(sys.argv[1])
    print(json.dumps(report["checked"], indent=1))
    print(f"{sum(report['checked'].values())} answers checked, {len(report['errors'])} disagreements")
    for e in report["errors"][:50]:
        print("  ", e)
    sys.exit(1 if report["errors"] else 0)
