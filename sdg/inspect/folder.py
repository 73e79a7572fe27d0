"""Every read `sdg inspect` makes of an output folder, in one class: the manifest, the frame shards, the video rows,
the reports (`reports/*.json`) and the export files (`exports/...`). Paths are relative to the folder; `open` is the
one call that opens a file (and `exists` the one that asks), so reading another filesystem changes only those two.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sdg.export.video import som_video_path

MANIFEST = "manifest.json"


class OutputFolder:
    """An sdg output folder, read-only."""

    def __init__(self, root):
        self.root = Path(root)
        if not self.exists(MANIFEST):
            raise FileNotFoundError(f"{self.root}: no manifest.json — not an sdg output folder (run `sdg run` first)")
        try:
            self.manifest: dict = json.loads(self.read_bytes(MANIFEST))
        except json.JSONDecodeError as e:
            raise FileNotFoundError(f"{self.root / MANIFEST}: corrupt manifest ({e})") from None
        self._tables = lru_cache(maxsize=2)(self._read_table)  # sampled frames come from few shards: read each once
        self._videos = lru_cache(maxsize=2)(self._read_table)  # the same for the clips' video rows (their mp4s)

    # ------------------------------------------------------------------------------------------- files
    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def open(self, rel: str):
        """A binary file object of `rel` (the folder's one file-opening call)."""
        return open(self.root / rel, "rb")

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as f:
            return f.read()

    def json(self, rel: str):
        """The parsed JSON file, or None when it is absent."""
        return json.loads(self.read_bytes(rel)) if self.exists(rel) else None

    def local_path(self, rel: str) -> Path:
        """Where `rel` is on this machine (what the report's messages name)."""
        return self.root / rel

    # ------------------------------------------------------------------------------------------- manifest
    @property
    def entries(self) -> list[dict]:
        """The committed clips' manifest entries, by clip id."""
        return [e for _, e in sorted((self.manifest.get("clips") or {}).items())]

    @property
    def config(self) -> dict:
        return self.manifest.get("config") or {}

    @property
    def last_run(self) -> dict:
        return self.manifest.get("last_run") or {}

    def shards(self) -> list[str]:
        return [e["shard"] for e in self.entries]

    def video_files(self) -> list[str]:
        """The video-level Parquet files of the committed clips (the entry's `videos` key, else next to the shard,
        as sdg.export.video_rows writes them)."""
        return [rel for rel in (_video_rel(e) for e in self.entries) if self.exists(rel)]

    # ------------------------------------------------------------------------------------------- tables
    def schema(self, rel: str) -> pa.Schema:
        with self.open(rel) as f:
            return pq.read_schema(f)

    def _read_table(self, rel: str) -> pa.Table:
        with self.open(rel) as f:
            return pq.read_table(f)

    def table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        """A shard's columns (all of them, cached for the last two shards, when `columns` is None)."""
        if columns is None:
            return self._tables(rel)
        with self.open(rel) as f:
            return pq.read_table(f, columns=columns)

    def video_rows(self, columns: list[str] | None = None) -> list[dict]:
        """Every video-level row (sdg.model.VIDEO_SCHEMA), clip by clip."""
        rows = []
        for rel in self.video_files():
            rows += self.table(rel, columns).to_pylist()
        return rows

    # ------------------------------------------------------------------------------------------- exports, reports
    def report(self, name: str) -> dict | None:
        """`reports/<name>.json` (qa, survival), None when the run wrote no exports."""
        return self.json(f"reports/{name}.json")

    def kept_qa(self, splits) -> list[dict] | None:
        """The balanced Q&A the exports kept (`exports/qa/<split>.jsonl`), None when there are none."""
        rels = [f"exports/qa/{s}.jsonl" for s in splits if self.exists(f"exports/qa/{s}.jsonl")]
        if not rels:
            return None
        return [json.loads(line) for rel in rels for line in self.read_bytes(rel).decode().splitlines() if line]

    def export_bytes(self, rel: str) -> bytes | None:
        """An export file (`rel` under exports/), None when absent."""
        return self.read_bytes(f"exports/{rel}") if self.exists(f"exports/{rel}") else None

    def som_mp4(self, clip_id: str, variant: int, event_id: str | None = None) -> bytes | None:
        """A Set-of-Mark mp4 of a video (every mark, or one event's actors): the exported file under
        exports/videos/, else the bytes the clip's video rows hold; None when neither has it."""
        data = self.export_bytes(som_video_path(clip_id, variant, event_id))
        if data is not None:
            return data
        entry = (self.manifest.get("clips") or {}).get(clip_id)
        rel = _video_rel(entry) if entry else None
        if not rel or not self.exists(rel):
            return None
        for r in self._videos(rel).to_pylist():
            if r["variant"] != variant:
                continue
            if event_id is None:
                return r["som_video"] or None
            return next((e["som_video"] for e in r["event_videos"] or [] if e["event_id"] == event_id), None)
        return None


def _video_rel(entry: dict) -> str:
    return entry.get("videos") or f"videos/{Path(entry['shard']).name}"
