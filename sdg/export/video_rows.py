"""Reading the video-level rows of committed clips (sdg.model.VIDEO_SCHEMA; `videos/part-<clip_id>.parquet`, written
with the clip's shard by the write stage, sdg.export.shards.write_clip) from any output location."""
from __future__ import annotations

from sdg.export.shards import VIDEOS, Manifest, entry_files


def video_rows_file(entry: dict) -> str | None:
    """The video-level Parquet file of a manifest entry, relative to the output root (None when it has none)."""
    f = entry_files(entry).get(VIDEOS)
    return f["path"] if f else None


def read_video_rows(manifest: Manifest, entries, columns=None) -> list[dict]:
    """The video rows of the given manifest entries (dicts), clip by clip."""
    rows = []
    for e in entries:
        rel = video_rows_file(e)
        if rel is not None:
            rows += manifest.read_table(rel, columns=columns).to_pylist()
    return rows
