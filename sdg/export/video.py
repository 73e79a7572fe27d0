"""Per-clip mp4 exports: the simulator's video, the edge control, and each variant's augmented and Set-of-Mark
videos, under out_dir/videos/<clip>/ (`rgb.mp4`, `edge.mp4`, `v<k>_augmented.mp4`, `v<k>_som.mp4`)."""
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


def export_videos(rows: Iterable[dict], out_dir: Path) -> Path:
    """Group rows by clip (rows of one clip arrive together from its shard) and write its videos. Returns the
    videos folder; an index.json lists what was written."""
    target = Path(out_dir) / "videos"
    index: dict[str, list[str]] = {}
    clip_rows: dict[str, list[dict]] = defaultdict(list)
    current = None
    for row in rows:
        if current is not None and row["clip_id"] != current:
            index[current] = _write_clip(target, current, clip_rows.pop(current))
        current = row["clip_id"]
        clip_rows[current].append(row)
    for clip, rs in clip_rows.items():
        index[clip] = _write_clip(target, clip, rs)
    atomic_write_bytes(target / "index.json", json.dumps(index, indent=1, sort_keys=True).encode())
    return target


def _write_clip(target: Path, clip: str, rows: list[dict]) -> list[str]:
    folder = target / _SAFE.sub("_", clip)
    rows = sorted(rows, key=lambda r: (r["variant"], r["frame_index"]))
    v0 = [r for r in rows if r["variant"] == rows[0]["variant"]]
    fps = _fps([r["timestamp"] for r in v0])
    written = []

    def put(name: str, frames: list[bytes]) -> None:
        if frames and all(frames):
            clip_arr = np.stack([decode_image(b) for b in frames])
            atomic_write_bytes(folder / name, encode_mp4(clip_arr, fps), fsync=False)
            written.append(f"{folder.name}/{name}")

    put("rgb.mp4", [r["rgb_image"] for r in v0])
    put("edge.mp4", [r["edge_image"] for r in v0])
    for v in sorted({r["variant"] for r in rows}):
        vr = [r for r in rows if r["variant"] == v]
        put(f"v{v}_augmented.mp4", [r["image"] for r in vr])
        put(f"v{v}_som.mp4", [r["som_image"] for r in vr])
    return written
