"""WTS phase captions from ground truth (sdg.som.captions) and the LLM paraphrase that must keep every fact, tested
against a real OpenAI-compatible HTTP server on 127.0.0.1 through the NIM client."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from sdg.augment.nim import NimClient
from sdg.model import ActorTrack, ClipAnnotations
from sdg.som.captions import PHASES, environment, keeps_facts, paraphrase_phases, phase_spans, video_phases
from sdg.som.tracks import build_facts

FPS = 10.0
T = 40


class _Cam:
    width, height, name = 640, 360, "c"
    K = np.array([[320.0, 0, 320], [0, 320, 180], [0, 0, 1]])
    world_to_camera = np.eye(4)
    location = (0.0, 0.0, 8.0)


def _near_miss_clip() -> ClipAnnotations:
    """Vehicle 1 drives east at 12 m/s through the crossing; vehicle 2 drives south at 10 m/s and brakes at 7.5 m/s^2
    from t = 1.5 s, stopping short; a pedestrian stands on the corner."""
    t = np.arange(T) / FPS
    a = np.stack([-20 + 12 * t, np.zeros(T), np.full(T, 0.75)], 1)
    vb = np.where(t < 1.5, 10.0, np.maximum(0.0, 10.0 - 7.5 * (t - 1.5)))
    yb = -25 + np.concatenate([[0], np.cumsum(vb[:-1] / FPS)])
    b = np.stack([np.full(T, 2.0), yb, np.full(T, 0.75)], 1)
    tracks = {
        1: ActorTrack(1, "car", "vehicle.a", np.array([4.5, 1.9, 1.5]), a, np.zeros(T), np.full(T, 12.0)),
        2: ActorTrack(2, "car", "vehicle.b", np.array([4.5, 1.9, 1.5]), b, np.full(T, 90.0), vb),
        3: ActorTrack(3, "pedestrian", "walker", np.array([0.5, 0.5, 1.8]), np.tile([8.0, 8.0, 0.9], (T, 1)),
                      np.zeros(T), np.zeros(T)),
    }
    events = [{"kind": "near_miss", "actor_ids": [2, 1], "t_start": 1.5, "t_end": 2.6, "details": {"min_ttc": 0.9}}]
    from sdg.model import ObjectAnnotation

    objects = []
    for k in range(T):
        frame = []
        for aid, tr in tracks.items():
            frame.append(ObjectAnnotation.model_construct(
                mark={1: 4, 2: 7, 3: 2}[aid], actor_id=aid, category=tr.category, bbox_2d=[10, 10, 50, 50],
                pixels=400, visibility=0.9, survival=None, state_visible=None))
        objects.append(frame)
    return ClipAnnotations(marks={1: 4, 2: 7, 3: 2}, objects=objects, events=[[] for _ in range(T)], tracks=tracks,
                           scene_events=events)


def test_phases_follow_the_conflict_and_the_braking():
    ann = _near_miss_clip()
    facts = build_facts(ann, np.arange(T) / FPS, _Cam(), ann.objects)
    ev = next(e for e in facts.events if e.kind == "near_miss")
    spans = phase_spans(facts, ev)
    labels = [lab for lab, _, _ in spans]
    assert labels == sorted(labels) and labels[0] in (0, 1) and 3 in labels and labels[-1] == 4
    bounds = {lab: (a, b) for lab, a, b in spans}
    assert bounds[3][0] == pytest.approx(1.6, abs=0.11)  # the action starts with the braking
    for (_, a0, b0), (_, a1, _) in zip(spans, spans[1:]):
        assert b0 == pytest.approx(a1) and a0 < b0
    phases = video_phases(facts, {"weather": "fog", "lighting": "night", "road": "dry"})
    action = next(p for p in phases if p.phase == "action")
    assert "marked 7" in action.caption_vehicle and "slowing down sharply" in action.caption_vehicle
    assert "marked 4" in action.caption_vehicle and "fog at night" in action.caption_vehicle.lower()
    assert action.caption_pedestrian == ""  # no pedestrian takes part
    facts_v = action.facts["vehicle"]
    assert facts_v["mark"] == 7 and f"about {facts_v['distance_m']} m" in action.caption_vehicle
    assert [p.label for p in phases] == labels and all(p.phase == PHASES[p.label] for p in phases)


def test_fact_check_accepts_rewording_and_rejects_changed_facts():
    f = {"mark": 7, "noun": "vehicle", "motion": "slowing down sharply", "speed_kmh": 25,
         "direction": "toward the camera", "visibility": "clearly visible", "other_mark": 4, "other_noun": "vehicle",
         "relation": "ahead on its left",
         "distance_m": 9}
    env = environment({"weather": "rain", "lighting": "dusk", "road": "wet"})
    good = ("Vehicle 7 is slowing down hard at roughly 25 km/h, heading toward the camera; vehicle 4 is ahead on "
            "its left about 9 m off. It is clearly visible in the rain at dusk on a wet road.")
    assert keeps_facts(good, f, env)
    assert not keeps_facts(good.replace("25", "35"), f, env)  # a changed number
    assert not keeps_facts(good.replace("left", "right"), f, env)  # a changed direction
    assert not keeps_facts(good.replace(" at dusk", ""), f, env)  # a dropped fact
    assert not keeps_facts(good + " It has 2 passengers.", f, env)  # an invented number


class _Rewriter(BaseHTTPRequestHandler):
    """A real OpenAI-compatible chat endpoint: rewords captions, but changes the distance in captions of a vehicle
    slowing down (a paraphrase that alters a fact)."""

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        text = body["messages"][-1]["content"].split("\n\n", 1)[1]
        out = text.replace("The ", "Here the ").replace(" is ", " appears ")
        if "slowing down" in text:
            out = re.sub(r"about (\d+) m", lambda m: f"about {int(m.group(1)) + 3} m", out)
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                    "content": f"<think>ok</think>{out}"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def rewrite_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Rewriter)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_paraphrase_through_an_llm_keeps_facts_or_falls_back(rewrite_server):
    ann = _near_miss_clip()
    facts = build_facts(ann, np.arange(T) / FPS, _Cam(), ann.objects)
    phases = video_phases(facts, {"weather": "clear", "lighting": "day", "road": "dry"})
    client = NimClient(rewrite_server, "llm", retries=0)
    out, stats = paraphrase_phases(phases, lambda p: client.chat([{"role": "user", "content": p}]))
    assert stats["accepted"] > 0 and len(out) == len(phases)
    for before, after in zip(phases, out):
        if after.caption_vehicle != before.caption_vehicle:
            assert "appears" in after.caption_vehicle and "<think>" not in after.caption_vehicle
            assert keeps_facts(after.caption_vehicle, after.facts["vehicle"], after.facts["environment"])
    altered = [(b, a) for b, a in zip(phases, out) if "slowing down" in b.caption_vehicle]
    assert altered and all(a.caption_vehicle == b.caption_vehicle for b, a in altered)  # rejected: template kept
    assert stats["rejected"] >= len(altered)
