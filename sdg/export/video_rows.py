"""The video-level Parquet file of a clip (sdg.model.VIDEO_SCHEMA rows): `videos/part-<clip_id>.parquet` next to the
clip's shard, written whole to a temp file and renamed, before the shard's manifest entry names it. Readers find it
through the manifest entry's `videos` key (or by the shard's file name)."""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sdg.export.shards import shard_name
from sdg.model import VIDEO_SCHEMA

VIDEOS_DIR = "videos"


def write_video_rows(out_dir, clip_id: str, table: pa.Table) -> str:
    """Write one clip's video rows atomically; returns the path relative to out_dir."""
    if not table.schema.equals(VIDEO_SCHEMA):
        raise ValueError(f"clip {clip_id}: video table schema differs from sdg.model.VIDEO_SCHEMA")
    folder = Path(out_dir) / VIDEOS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / shard_name(clip_id)
    tmp = folder / f".{final.name}.{os.getpid()}.tmp"
    pq.write_table(table, tmp, row_group_size=1, compression="zstd")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return f"{VIDEOS_DIR}/{final.name}"


def video_rows_path(out_dir, entry: dict) -> Path | None:
    """The video-level Parquet file of a manifest entry (None when the clip has none)."""
    rel = entry.get("videos")
    if rel is None:
        guess = Path(out_dir) / VIDEOS_DIR / Path(entry["shard"]).name
        return guess if guess.exists() else None
    return Path(out_dir) / rel


def read_video_rows(out_dir, entries, columns=None) -> list[dict]:
    """The video rows of the given manifest entries (dicts), clip by clip."""
    rows = []
    for e in entries:
        p = video_rows_path(out_dir, e)
        if p is not None and p.exists():
            rows += pq.read_table(p, columns=columns).to_pylist()
    return rows
