"""The video-level rows of a clip (sdg.model.VIDEO_SCHEMA): per video (the simulator's, variant -1, and each
augmented variant) the tracks with their askable frames, the events with ids, the video Q&A, the WTS phases and the
Set-of-Mark videos (all marks; and per event only the event's actors, its hard-negative pairs included)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from sdg.augment.video import encode_mp4
from sdg.model import ClipAnnotations
from sdg.som.captions import paraphrase_phases, video_phases
from sdg.som.formats import shuffle_options
from sdg.som.marks import draw_marks
from sdg.som.tracks import VideoFacts, build_facts, event_json
from sdg.som.video_qa import make_video_qa


@dataclass
class ClipVideoInput:
    """What the video rows of one clip are made from (everything per clip; per video: frames and survival)."""

    job: str
    scenario_id: str
    camera: object  # sdg.geometry.Camera
    clip_id: str
    split: str
    seed: int
    times: np.ndarray
    frame_indices: np.ndarray
    annotations: ClipAnnotations
    instance: np.ndarray  # (T, H, W)
    junctions: Sequence[np.ndarray] = ()
    road_known: bool = False  # the lane-based event detectors ran (wrong way, red light, jaywalking)
    per_template: int = 4
    event_videos: bool = True
    rewrite: Callable[[str], str] | None = None  # LLM paraphrase of captions (None: template captions only)


def variant_name(v: int) -> str:
    return "sim" if v < 0 else f"v{v}"


def video_row(inp: ClipVideoInput, variant: int, frames: Sequence[np.ndarray], objects: Sequence[Sequence],
              look: dict | None, som_frames: Sequence[np.ndarray] | None = None, provenance: dict | None = None
              ) -> dict:
    """One VIDEO_SCHEMA row. frames: the video's (H, W, 3) RGB frames; objects: per frame the video's object
    records (survival set for augmented variants, state_visible as the video shows the lights); som_frames: the
    all-marks overlays when already drawn."""
    cam = inp.camera
    facts = build_facts(inp.annotations, inp.times, cam, objects, inp.junctions, inp.road_known)
    name = variant_name(variant)
    qas = shuffle_options(make_video_qa(facts, seed=inp.seed, clip_id=inp.clip_id, variant_name=name,
                                        per_template=inp.per_template), seed=(inp.seed, inp.clip_id, variant))
    phases = video_phases(facts, look)
    stats = None
    if inp.rewrite is not None and phases:
        phases, stats = paraphrase_phases(phases, inp.rewrite)
    fps = facts.fps
    if som_frames is None:
        som_frames = [draw_marks(frames[t], objects[t], instance=inp.instance[t]) for t in range(len(frames))]
    event_videos = []
    if inp.event_videos:
        for ev in facts.events:
            ids = set(ev.actor_ids)
            clip = np.stack([draw_marks(frames[t], objects[t], instance=inp.instance[t], only_actor_ids=ids)
                             for t in range(len(frames))])
            event_videos.append({"event_id": ev.event_id, "som_video": encode_mp4(clip, fps, profile="som")})
    return {
        "job": inp.job, "scenario_id": inp.scenario_id, "camera": cam.name, "clip_id": inp.clip_id,
        "split": inp.split, "variant": int(variant), "look": json.dumps(look, sort_keys=True) if look else "",
        "fps": fps, "n_frames": len(frames), "frame_indices": [int(k) for k in inp.frame_indices],
        "timestamps": [float(t) for t in inp.times], "width": cam.width, "height": cam.height,
        "intrinsics": np.asarray(cam.K).reshape(-1).tolist(),
        "world_to_camera": np.asarray(cam.world_to_camera).reshape(-1).tolist(),
        "camera_location": [float(x) for x in cam.location],
        "junction": [np.asarray(j, np.float64).reshape(-1).tolist() for j in inp.junctions],
        "tracks": _tracks(facts), "events": [event_json(ev, facts) for ev in facts.events],
        "phases": [p.as_row() for p in phases], "qa": [q.model_dump() for q in qas],
        "som_video": encode_mp4(np.stack(som_frames), fps, profile="som"), "event_videos": event_videos,
        "provenance": json.dumps({**(provenance or {}), **({"paraphrase": stats} if stats else {})},
                                 sort_keys=True),
    }


def _tracks(facts: VideoFacts) -> list[dict]:
    out = []
    for aid, tr in sorted(facts.tracks.items()):
        out.append({
            "actor_id": aid, "mark": tr.mark, "category": tr.category, "type_id": tr.type_id,
            "size": [float(x) for x in tr.size], "x": tr.center[:, 0].tolist(), "y": tr.center[:, 1].tolist(),
            "z": tr.center[:, 2].tolist(), "yaw": tr.yaw.tolist(), "speed": tr.speed.tolist(),
            "visible": tr.askable.tolist(), "states": list(tr.states or []),
            "state_visible": tr.state_visible.tolist() if tr.state_visible is not None else [],
        })
    return out
