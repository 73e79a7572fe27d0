"""The dataset card: OUT_DIR/README.md with the Hugging Face YAML header naming each split's files, so that
`datasets.load_dataset(OUT_DIR)` returns the train / validation / test frame rows without arguments (config "frames"
is the default; "videos" and "qa" are the other configs), and a body that says what the files hold."""
from __future__ import annotations

import json

from sdg.config import JobConfig


def _files_yaml(name: str, files: dict[str, list[str] | str], default: bool = False) -> list[str]:
    lines = [f"- config_name: {name}"]
    if default:
        lines.append("  default: true")
    lines.append("  data_files:")
    for split, paths in files.items():
        if not paths:
            continue
        lines.append(f"  - split: {split}")
        if isinstance(paths, str):
            lines.append(f"    path: {json.dumps(paths)}")
        else:
            lines.append("    path:")
            lines += [f"    - {json.dumps(p)}" for p in paths]
    return lines


def _table(rows: list[list[str]]) -> str:
    head, *body = rows
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def dataset_card(cfg: JobConfig, shards: dict[str, list[str]], videos: dict[str, list[str]], qa: dict[str, str],
                 report: dict) -> str:
    header = ["---", f"pretty_name: {json.dumps('sdg ' + cfg.name)}", "license: other",
              "task_categories:", "- visual-question-answering", "- object-detection", "tags:",
              "- synthetic", "- traffic", "- set-of-mark", "- video-question-answering", "configs:"]
    header += _files_yaml("frames", shards, default=True)
    if any(videos.values()):
        header += _files_yaml("videos", videos)
    header += _files_yaml("qa", qa)
    header.append("---")
    base = report.get("text_only_baseline", {}).get("by_kind", {})
    baseline_rows = [["kind", "held-out questions", "chance", "majority answer", "bag of words", "lower-mark policy"]]
    for kind, r in sorted(base.items()):
        baseline_rows.append([kind, str(r["n"]), f"{r['chance']:.2f}", f"{r['majority']:.2f}", f"{r['bow']:.2f}",
                              f"{r['lower_mark']:.2f}" if "lower_mark" in r else "-"])
    split_rows = [["split", "scenarios", "frame shards", "kept questions"]]
    kept = report.get("questions", {}).get("kept_per_split", {})
    for split, paths in shards.items():
        split_rows.append([split, ", ".join(report.get("splits", {}).get(split, [])), str(len(paths)),
                           str(kept.get(split, 0))])
    body = f"""
# sdg {cfg.name}: synthetic traffic video and image dataset

Made by sdg from simulated traffic (seed {cfg.seed}), rendered, ground-truthed and augmented. Every answer is computed
from the simulator's ground truth; objects are named by Set-of-Mark numbers, assigned per clip in a seeded random
order (a mark number says nothing about size, distance or side).

## Splits

By scenario, never by frame or variant: no scenario is in two splits.

{_table(split_rows)}

`datasets.load_dataset("<this folder>")` gives the frame rows (config `frames`); `name="videos"` the video-level rows
(video Q&A, WTS phases, events, tracks, Set-of-Mark videos as mp4 bytes); `name="qa"` the balanced Q&A as text
(`exports/qa/<split>.parquet`, also as JSON lines next to it).

## Files

- `shards/part-<clip>.parquet`: one row per (clip, variant, frame): augmented frame, Set-of-Mark overlay, simulator
  frame, depth, semantic, instance, normals, flow, objects (marks, boxes, 3D boxes, visibility, survival,
  `state_visible` for traffic lights), events, frame Q&A (`qa`: question, answer, kind, template, choices, ...).
- `videos/part-<clip>.parquet`: one row per (clip, video): variant -1 is the simulator's video, 0.. the augmented
  variants; tracks, events with ids, video Q&A with rationales, WTS phases, Set-of-Mark mp4s.
- `exports/llava_<split>.json`, `exports/llava_video_<split>.json`: LLaVA conversations (image and video records).
- `exports/aicity_<split>.json`: multiple choice `{{question, a, b, c, d, correct}}` (AI City Challenge Track 2 style).
- `exports/wts_captions_<split>.json`: per event video, `event_phase` with `labels`, `start_time`, `end_time`,
  `caption_pedestrian`, `caption_vehicle` (WTS style).
- `exports/coco_<split>.json`, `exports/odvg_<split>.jsonl`: detection / grounding; `exports/images/`,
  `exports/videos/<clip>/` (`<video>_som.mp4` all marks, `<video>_events_<event>_som.mp4` only the event's actors,
  `<video>` = `sim` or `v<k>`).
- `reports/qa.json` (answers per template, text-only baselines, blind mark policies), `reports/survival.json`
  (fraction of marked objects lost per look).

## LLaVA tokens

Image records: `{{"id", "image", "conversations"}}`, the first human turn starts with `<image>\\n`. Video records:
`{{"id", "video", "conversations"}}` with the same single `<image>\\n` token: LLaVA-NeXT and LLaVA-OneVision load the
`video` file and expand that one `<image>` into the sampled frames. Loaders in the Video-LLaVA style expect `<video>`
instead: replace the token (`sdg.export.llava.VIDEO_TOKEN`). Multiple choice lists the options `A. ...` one per line and
ends with "Answer with the option's letter from the given choices directly."; the answer is the bare letter. Each
question type carries exactly one answer-format instruction.

## Answer hygiene

Answers are balanced per question template by choosing which questions to ask, never by changing answers: yes/no
50/50, correct letters uniform over A-D, other answers uniform over their most frequent values. A model that never
looks (held-out splits, trained on the train split):

{_table(baseline_rows)}
"""
    return "\n".join(header) + "\n" + body
