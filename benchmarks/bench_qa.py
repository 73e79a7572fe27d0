"""Benchmark of the Q&A engine (sdg.som): video questions + WTS phases of one 150-frame video with 40 tracked actors
(a collision, a near miss and a jaywalker among ordinary traffic), and the dataset-level pass (balanced selection and
text-only baselines) over 100 000 questions. CPU seconds are reported next to wall seconds (the machine may be
shared).

    python benchmarks/bench_qa.py
"""
from __future__ import annotations

import time

import numpy as np

from sdg.model import ActorTrack, ClipAnnotations, ObjectAnnotation
from sdg.som.balance import select_balanced
from sdg.som.baselines import text_only_report
from sdg.som.captions import video_phases
from sdg.som.tracks import build_facts
from sdg.som.video_qa import make_video_qa

T, FPS, N = 150, 10.0, 40


class _Cam:
    width, height, name = 960, 540, "c"
    K = np.array([[480.0, 0, 480], [0, 480, 270], [0, 0, 1]])
    world_to_camera = np.array([[0, 1, 0, 0], [0, 0, -1, 8], [1, 0, 0, 20], [0, 0, 0, 1]], float)
    location = (-20.0, 0.0, 8.0)


def _clip() -> ClipAnnotations:
    rng = np.random.default_rng(0)
    t = np.arange(T) / FPS
    tracks, objects = {}, [[] for _ in range(T)]
    for i in range(1, N + 1):
        cat = "pedestrian" if i % 5 == 0 else "car"
        yaw = float(rng.choice([0.0, 90.0, 180.0, -90.0]))
        v = 1.3 if cat == "pedestrian" else float(rng.uniform(0, 12))
        h = np.radians(yaw)
        start = rng.uniform(-40, 40, 2)
        c = np.stack([start[0] + np.cos(h) * v * t, start[1] + np.sin(h) * v * t, np.full(T, 0.8)], 1)
        size = np.array([0.5, 0.5, 1.8]) if cat == "pedestrian" else np.array([4.5, 1.9, 1.5])
        tracks[i] = ActorTrack(i, cat, cat, size, c, np.full(T, yaw), np.full(T, v))
        for k in range(T):
            objects[k].append(ObjectAnnotation.model_construct(
                mark=i, actor_id=i, category=cat, bbox_2d=[10.0 * i % 900, 100, 10.0 * i % 900 + 40, 140],
                pixels=400, visibility=0.9, survival=None, state_visible=None, distance=20.0))
    events = [{"kind": "collision", "actor_ids": [1, 2], "t_start": 6.0, "t_end": 9.0, "details": {}},
              {"kind": "near_miss", "actor_ids": [3, 4], "t_start": 4.0, "t_end": 5.0, "details": {}},
              {"kind": "jaywalking", "actor_ids": [5], "t_start": 2.0, "t_end": 8.0, "details": {}}]
    return ClipAnnotations(marks={i: i for i in tracks}, objects=objects, events=[[] for _ in range(T)],
                           tracks=tracks, scene_events=events)


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ann = _clip()
    times = np.arange(T) / FPS
    junction = [np.array([[-8.0, -8.0], [8.0, -8.0], [8.0, 8.0], [-8.0, 8.0]])]

    def video():
        facts = build_facts(ann, times, _Cam(), ann.objects, junction, road_known=True)
        return make_video_qa(facts, seed=1, clip_id="bench", variant_name="v0"), video_phases(facts, None)

    (qas, phases), wall, cpu = _timed(video)
    print(f"one video ({T} frames, {N} tracks): {len(qas)} questions, {len(phases)} phases in {wall:.2f} s "
          f"wall, {cpu:.2f} s CPU")
    rng = np.random.default_rng(1)
    records = []
    for i in range(100_000):
        t = ["existence", "spatial", "count", "turn", "distance"][i % 5]
        a, b = (int(x) for x in rng.choice(np.arange(1, 30), 2, replace=False))
        if t == "turn":
            opts = ["turns left", "turns right", "goes straight", "stays stopped"]
            rec = {"answer": "ABCD"[int(rng.integers(4))], "choices": opts, "question": f"What does {a} do?"}
        elif t == "distance":
            rec = {"answer": str(a), "choices": [], "question": f"Which of the objects marked {a} and {b} is closer?"}
        elif t == "count":
            rec = {"answer": str(int(rng.integers(1, 7))), "choices": [], "question": "How many cars are visible?"}
        else:
            rec = {"answer": "yes" if rng.random() < 0.7 else "no", "choices": [],
                   "question": f"Is the object marked {a} to the left of the object marked {b}?"}
        records.append({"id": f"q{i}", "template": t, "kind": t, "topic": "", "split": ("train", "test")[i % 2],
                        "clip_id": f"c{i % 300}", **rec})
    kept, wall_s, cpu_s = _timed(lambda: select_balanced(records, seed=0))
    _, wall_b, cpu_b = _timed(lambda: text_only_report(kept))
    print(f"dataset pass over {len(records)} questions: selection {wall_s:.2f} s wall ({cpu_s:.2f} s CPU), kept "
          f"{len(kept)}; baselines {wall_b:.2f} s wall ({cpu_b:.2f} s CPU)")
    print(f"dataset_pass_questions_per_cpu_second: {len(records) / max(cpu_s + cpu_b, 1e-9):.0f}")


if __name__ == "__main__":
    main()
