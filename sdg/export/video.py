"""Per-clip mp4 exports: the simulator's video, the edge control, and each variant's augmented and Set-of-Mark
videos, under out_dir/videos/<clip>/ (`rgb.mp4`, `edge.mp4`, `v<k>_augmented.mp4`, `v<k>_som.mp4`); and from the
video-level rows (sdg.model.VIDEO_SCHEMA) the Set-of-Mark videos of every video, the simulator's included, with
every mark (`<video>_som.mp4`) and per event with only the event's actors marked
(`<video>_events_<event id>_som.mp4`, e.g. `sim_events_collision_som.mp4`, `v0_events_noncollision_0_som.mp4`),
where <video> is `sim` or `v<k>`."""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import numpy as np

from sdg.augment.video import encode_mp4
from sdg.codec import decode_image
from sdg.export.files import atomic_write_bytes

_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def _fps(times: list[float]) -> float:
    if len(times) < 2:
        return 10.0
    return float(1.0 / np.median(np.diff(sorted(times))))


def export_videos(rows: Iterable[dict], out_dir: Path, *, som: bool = True) -> Path:
    """Group rows by clip (rows of one clip arrive together from its shard) and write its videos (without the
    Set-of-Mark ones when som=False: export_som_videos writes those). Returns the videos folder; an index.json lists
    what was written."""
    target = Path(out_dir) / "videos"
    index: dict[str, list[str]] = {}
    clip_rows: dict[str, list[dict]] = defaultdict(list)
    current = None
    for row in rows:
        if current is not None and row["clip_id"] != current:
            index[current] = _write_clip(target, current, clip_rows.pop(current), som)
        current = row["clip_id"]
        clip_rows[current].append(row)
    for clip, rs in clip_rows.items():
        index[clip] = _write_clip(target, clip, rs, som)
    _merge_index(target, index)
    return target


def clip_folder(clip_id: str) -> str:
    return _SAFE.sub("_", clip_id)


def som_video_path(clip_id: str, variant: int, event_id: str | None = None) -> str:
    """The path, relative to the export folder, of a video's Set-of-Mark mp4 (all marks, or one event's)."""
    name = "sim" if variant < 0 else f"v{variant}"
    tail = "_som.mp4" if event_id is None else f"_events_{event_id}_som.mp4"
    return f"videos/{clip_folder(clip_id)}/{name}{tail}"


def export_som_videos(video_rows: Iterable[dict], out_dir: Path) -> dict[tuple[str, int, str], str]:
    """Write the Set-of-Mark videos held by video-level rows: {(clip id, variant, "som" | "event:<id>"): path
    relative to out_dir}. Files already there with the same bytes are left alone."""
    out_dir = Path(out_dir)
    written: dict[tuple[str, int, str], str] = {}
    index: dict[str, list[str]] = defaultdict(list)
    for r in video_rows:
        clip, v = r["clip_id"], int(r["variant"])
        items = [("som", None, r.get("som_video"))]
        items += [(f"event:{e['event_id']}", e["event_id"], e["som_video"]) for e in r.get("event_videos") or []]
        for key, event_id, data in items:
            if not data:
                continue
            rel = som_video_path(clip, v, event_id)
            path = out_dir / rel
            if not (path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data):
                atomic_write_bytes(path, bytes(data), fsync=False)
            written[(clip, v, key)] = rel
            index[clip].append(rel.split("/", 1)[1])
    _merge_index(out_dir / "videos", index)
    return written


def _merge_index(target: Path, index: dict[str, list[str]]) -> None:
    path = target / "index.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    for clip, files in index.items():
        old[clip] = sorted(set(old.get(clip, [])) | set(files))
    atomic_write_bytes(path, json.dumps(old, indent=1, sort_keys=True).encode())


def _write_clip(target: Path, clip: str, rows: list[dict], som: bool = True) -> list[str]:
    folder = target / _SAFE.sub("_", clip)
    rows = sorted(rows, key=lambda r: (r["variant"], r["frame_index"]))
    v0 = [r for r in rows if r["variant"] == rows[0]["variant"]]
    fps = _fps([r["timestamp"] for r in v0])
    written = []

    def put(name: str, frames: list[bytes], profile: str = "rgb") -> None:
        if frames and all(frames):
            clip_arr = np.stack([decode_image(b) for b in frames])
            atomic_write_bytes(folder / name, encode_mp4(clip_arr, fps, profile), fsync=False)
            written.append(f"{folder.name}/{name}")

    put("rgb.mp4", [r["rgb_image"] for r in v0])
    put("edge.mp4", [r["edge_image"] for r in v0])
    for v in sorted({r["variant"] for r in rows}):
        vr = [r for r in rows if r["variant"] == v]
        put(f"v{v}_augmented.mp4", [r["image"] for r in vr])
        if som:
            put(f"v{v}_som.mp4", [r["som_image"] for r in vr], "som")
    return written
