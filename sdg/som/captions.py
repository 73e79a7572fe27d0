"""Phase captions in the WTS style, written from the ground truth of one video, and an optional LLM paraphrase that
is only accepted when it keeps every fact.

Phases of an event (WTS labels 0-4), from its conflict time t_c (sdg.som.tracks.conflict_time) and the action onset
t_a (the first braking step of a participant vehicle in [t_c - 2 s, t_c + 0.5 s], else t_c - 0.5 s), boundaries
0, t_c - 2, t_c - 1, t_a, t_c, min(end of video, t_end + 0.5), made non-decreasing (a boundary is lowered to the
next one when that one comes earlier) and clipped to the video:
  0 prerecognition [0, t_c - 2)   1 recognition [t_c - 2, t_c - 1)   2 judgement [t_c - 1, t_a)
  3 action [t_a, t_c)             4 avoidance [t_c, t_end + 0.5]
A phase shorter than one frame interval does not apply and is left out. Noncollision pairs get no phases.

Captions are read over the phase's frames: speed (mean, km/h rounded to 5), motion (stopped / slowing down sharply /
accelerating / moving at a steady speed), direction relative to the camera (toward / away from the camera /
across the view), where the other party is in the subject's frame (ahead, behind, on its left/right, ahead on its
left/right) and how far (centre distance at the phase's middle frame, m), how visible the subject is in this video
(mean visibility of its askable frames: >= 0.7 clearly visible, >= 0.3 partly hidden, else hard to see) and the
variant's weather and lighting. The vehicle caption describes the event's vehicle; the pedestrian caption the
pedestrian when one takes part (jaywalking: the jaywalker, with the nearest moving vehicle within 30 m as the
vehicle), else it is empty. Every stated value is also in the phase's `facts` (JSON).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sdg.som.tracks import (
    BRAKE_DECEL,
    MOVING,
    STOPPED,
    Track,
    VideoEvent,
    VideoFacts,
    brakes,
    conflict_time,
    step_speeds,
)

PHASES = ("prerecognition", "recognition", "judgement", "action", "avoidance")
NEAR_VEHICLE = 30.0  # metres: the vehicle a jaywalking caption pairs with the pedestrian
_WEATHER = {"clear": "clear weather", "fog": "fog", "rain": "rain", "snow": "snow"}
_LIGHT = {"day": "in daylight", "dusk": "at dusk", "night": "at night"}


@dataclass
class Phase:
    event_id: str
    phase: str
    label: int
    start_time: float
    end_time: float
    caption_vehicle: str
    caption_pedestrian: str
    facts: dict

    def as_row(self) -> dict:
        return {"event_id": self.event_id, "phase": self.phase, "label": self.label,
                "start_time": round(self.start_time, 3), "end_time": round(self.end_time, 3),
                "caption_vehicle": self.caption_vehicle, "caption_pedestrian": self.caption_pedestrian,
                "facts": json.dumps(self.facts, sort_keys=True)}


def environment(look: dict | None) -> str:
    """'fog at night, wet road' from a look {weather, lighting, road}; the simulator's video: clear daylight."""
    look = look or {"weather": "clear", "lighting": "day", "road": "dry"}
    text = f"{_WEATHER.get(look.get('weather'), look.get('weather'))} {_LIGHT.get(look.get('lighting'), '')}"
    return text + (", wet road" if look.get("road") == "wet" or look.get("weather") == "rain" else ", dry road")


def phase_spans(facts: VideoFacts, ev: VideoEvent) -> list[tuple[int, float, float]]:
    """[(label, start, end)] of the phases that apply (see the module docstring)."""
    tc = conflict_time(facts, ev)
    ta = None
    for a in ev.participants():
        tr = facts.tracks.get(a)
        if tr is None or not tr.is_vehicle:
            continue
        s = step_speeds(tr, facts.times)
        dt = np.maximum(np.diff(facts.times), 1e-9)
        for k in range(len(s) - 1):
            if tc - 2.0 - 1e-6 <= facts.times[k] and facts.times[k + 1] <= tc + 0.5 + 1e-6 and s[k] >= 1.0 and \
                    (s[k] - s[k + 1]) / dt[k] >= BRAKE_DECEL:
                t = float(facts.times[k + 1])
                ta = t if ta is None else min(ta, t)
                break
    b = [0.0, tc - 2.0, tc - 1.0, ta if ta is not None else tc - 0.5, tc, min(facts.duration, ev.t_end + 0.5)]
    for i in range(len(b) - 2, -1, -1):
        b[i] = min(b[i], b[i + 1])
    b = [float(np.clip(x, 0.0, facts.duration)) for x in b]
    step = 1.0 / facts.fps
    return [(i, b[i], b[i + 1]) for i in range(5) if b[i + 1] - b[i] >= step - 1e-6]


def _frames(facts: VideoFacts, t0: float, t1: float) -> np.ndarray:
    return np.flatnonzero((facts.times >= t0 - 1e-6) & (facts.times <= t1 + 1e-6))


def _relation(me: Track, other: Track, k: int) -> str:
    d = other.center[k, :2] - me.center[k, :2]
    h = np.radians(me.yaw[k])
    fwd = d[0] * np.cos(h) + d[1] * np.sin(h)
    right = -d[0] * np.sin(h) + d[1] * np.cos(h)  # CARLA: y is to the right of x
    ang = np.degrees(np.arctan2(right, fwd))
    if abs(ang) <= 30:
        return "ahead"
    if abs(ang) >= 150:
        return "behind"
    side = "right" if ang > 0 else "left"
    return f"ahead on its {side}" if abs(ang) < 75 else f"on its {side}"


def subject_facts(facts: VideoFacts, me: Track, other: Track | None, t0: float, t1: float) -> dict:
    ks = _frames(facts, t0, t1)
    mid = int(ks[len(ks) // 2])
    v = float(me.speed[ks].mean())
    moving = bool((me.speed[ks] > MOVING).any())
    braking, _ = brakes(me, facts.times, t0, t1) if me.is_vehicle else (False, 0.0)
    if not moving and float(me.speed[ks].max()) < STOPPED + 0.3:
        motion = "stopped"
    elif braking:
        motion = "slowing down sharply"
    elif float(me.speed[ks[-1]] - me.speed[ks[0]]) > 1.0:
        motion = "accelerating"
    else:
        motion = "walking" if me.category == "pedestrian" else "moving at a steady speed"
    dist = facts.camera_distance(me)
    delta = float(dist[ks[-1]] - dist[ks[0]])
    direction = "" if motion == "stopped" else ("toward the camera" if delta < -0.5 else
                                                 "away from the camera" if delta > 0.5 else "across the view")
    seen = me.askable[ks]
    vis = float(me.visibility[ks][seen].mean()) if seen.any() else 0.0
    out = {"mark": me.mark, "noun": me.noun(), "motion": motion, "speed_kmh": int(5 * round(v * 3.6 / 5)),
           "direction": direction,
           "visibility": "clearly visible" if vis >= 0.7 else "partly hidden" if vis >= 0.3 else "hard to see"}
    if other is not None:
        out.update(other_mark=other.mark, other_noun=other.noun(), relation=_relation(me, other, mid),
                   distance_m=int(round(float(np.linalg.norm(other.center[mid, :2] - me.center[mid, :2])))))
    return out


def caption_text(f: dict, env: str) -> str:
    """The deterministic caption of one subject's facts."""
    who = f"The {f['noun']} marked {f['mark']}"
    if f["motion"] == "stopped":
        s = f"{who} is stopped."
    else:
        s = f"{who} is {f['motion']} at about {f['speed_kmh']} km/h, {f['direction']}."
    if "other_mark" in f:
        s += (f" The {f['other_noun']} marked {f['other_mark']} is {f['relation']}, about {f['distance_m']} m "
              "away.")
    return s + f" It is {f['visibility']}. {env[0].upper() + env[1:]}."


def _parties(facts: VideoFacts, ev: VideoEvent) -> tuple[Track | None, Track | None, Track | None]:
    """(vehicle, its other party, pedestrian) of an event's captions."""
    trs = [facts.tracks[a] for a in ev.participants() if a in facts.tracks]
    peds = [t for t in trs if t.category == "pedestrian"]
    vehs = [t for t in trs if t.is_vehicle]
    ped = peds[0] if peds else None
    if ped is not None and not vehs:
        span = _frames(facts, ev.t_start, ev.t_end)
        best = None
        for tr in facts.tracks.values():
            if not tr.is_vehicle or tr.mark <= 0 or not (tr.speed[span] > MOVING).any():
                continue
            d = float(np.linalg.norm(tr.center[span, :2] - ped.center[span, :2], axis=1).min())
            if d <= NEAR_VEHICLE and (best is None or d < best[0]):
                best = (d, tr)
        vehs = [best[1]] if best else []
    veh = vehs[0] if vehs else None
    other = vehs[1] if len(vehs) > 1 else ped
    return veh, other, ped


def event_phases(facts: VideoFacts, ev: VideoEvent, look: dict | None) -> list[Phase]:
    if ev.kind == "noncollision":
        return []
    veh, other, ped = _parties(facts, ev)
    if veh is None and ped is None:
        return []
    env = environment(look)
    out = []
    for label, t0, t1 in phase_spans(facts, ev):
        fv = subject_facts(facts, veh, other, t0, t1) if veh is not None else None
        fp = subject_facts(facts, ped, veh, t0, t1) if ped is not None else None
        out.append(Phase(ev.event_id, PHASES[label], label, t0, t1, caption_text(fv, env) if fv else "",
                         caption_text(fp, env) if fp else "",
                         {"vehicle": fv, "pedestrian": fp, "environment": env, "event": ev.kind}))
    return out


def video_phases(facts: VideoFacts, look: dict | None) -> list[Phase]:
    return [p for ev in facts.events for p in event_phases(facts, ev, look)]


# ---------------------------------------------------------------------------------------------- paraphrase
_NUM = re.compile(r"\d+(?:\.\d+)?")


_STEMS = {"stopped": "stop", "slowing down sharply": "slow", "accelerating": "accelerat",
          "moving at a steady speed": "stead", "walking": "walk", "toward the camera": "toward",
          "away from the camera": "away", "across the view": "across", "clearly visible": "visible",
          "partly hidden": "hidden", "hard to see": "hard"}


def fact_tokens(f: dict | None, env: str) -> list[str]:
    """The surface forms a caption of these facts must keep (word stems, so rewording is free): the marks, the
    numbers, motion, direction, relation, visibility and the environment's weather / lighting / road words."""
    if not f:
        return []
    out = [str(f["mark"]), _STEMS.get(f["motion"], f["motion"])]
    if f["motion"] != "stopped":
        out += [str(f["speed_kmh"]), _STEMS.get(f["direction"], f["direction"])]
    if "other_mark" in f:
        out += [str(f["other_mark"]), str(f["distance_m"])] + f["relation"].replace("on its", "").split()
    out.append(_STEMS.get(f["visibility"], f["visibility"]))
    out += [w for w in re.findall(r"[a-z]+", env) if w in ("fog", "rain", "snow", "clear", "daylight", "dusk",
                                                            "night", "wet", "dry")]
    return [t for t in out if t]


def keeps_facts(text: str, f: dict | None, env: str) -> bool:
    """Every fact token is in `text` (case-insensitive) and no number appears that the facts do not hold."""
    low = text.lower()
    tokens = fact_tokens(f, env)
    if not all((re.search(rf"(?<![\d.]){re.escape(t)}(?![\d.])", low) if _NUM.fullmatch(t) else t.lower() in low)
               for t in tokens):
        return False
    allowed = {t for t in tokens if _NUM.fullmatch(t)}
    return all(n in allowed for n in _NUM.findall(low))


def clean_llm_text(text: str) -> str:
    """Drop <think> blocks and tags, keep the <answer> when there is one, collapse whitespace."""
    text = re.sub(r"<think>.*?</think>", "", text or "", flags=re.S)
    m = re.search(r"<answer>(.*?)</answer>", text, flags=re.S)
    if m:
        text = m.group(1)
    return " ".join(re.sub(r"</?[a-z_]+>", "", text).split())


PARAPHRASE_INSTRUCTION = ("/no_think Rewrite this traffic-video caption in different words. Keep every number, "
                          "mark number, direction and weather word exactly; add nothing. Reply with the caption "
                          "only.\n\n")


def paraphrase_phases(phases: list[Phase], rewrite: Callable[[str], str], max_chars: int = 600
                      ) -> tuple[list[Phase], dict[str, int]]:
    """Rewrite each caption with `rewrite(prompt) -> text`; keep a paraphrase only when it keeps every fact
    (keeps_facts) and is a sensible length, else the template caption. Returns (phases, {accepted, rejected})."""
    stats = {"accepted": 0, "rejected": 0}
    out = []
    for p in phases:
        env = p.facts.get("environment", "")
        new = {}
        for field, key in (("caption_vehicle", "vehicle"), ("caption_pedestrian", "pedestrian")):
            text = getattr(p, field)
            if not text:
                continue
            cand = clean_llm_text(rewrite(PARAPHRASE_INSTRUCTION + text))
            if 10 <= len(cand) <= max_chars and cand != text and keeps_facts(cand, p.facts.get(key), env):
                new[field] = cand
                stats["accepted"] += 1
            else:
                stats["rejected"] += 1
        out.append(Phase(**{**p.__dict__, **new}))
    return out, stats
