"""Every read `sdg inspect` makes of an output, in one class: the manifest, the frame shards, the video rows, the
reports (`reports/*.json`) and the export files (`exports/...`). The output is a local folder or a URI
(``s3://bucket/run1``), read through its :class:`sdg.storage.Location`; paths are relative to it. `open` is the one
call that opens a file (and `exists` the one that asks); `local_file` gives a file to a reader that needs a local
path (the exported mp4s: a remote one is copied to a temporary file for as long as it is read).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path, PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from sdg.export.shards import FRAMES, MANIFEST, VIDEOS, Manifest, entry_files
from sdg.export.video import som_video_path
from sdg.storage import Location, open_location


class OutputFolder:
    """An sdg output (local folder or URI), read-only. Raises FileNotFoundError when it holds no manifest,
    sdg.export.shards.ManifestError when the manifest is corrupt, sdg.storage.StorageError when the location cannot
    be reached."""

    def __init__(self, root):
        self.location: Location = open_location(root)
        if not self.exists(MANIFEST):
            raise FileNotFoundError(f"{self.root}: no {MANIFEST} — not an sdg output folder (run `sdg run` first)")
        self._manifest = Manifest(self.location)
        self.manifest: dict = self._manifest.data
        self._tables = lru_cache(maxsize=2)(self._read_table)  # sampled frames come from few shards: read each once
        self._videos = lru_cache(maxsize=2)(self._read_table)  # the same for the clips' video rows (their mp4s)

    @property
    def root(self) -> str:
        """The output as the user names it (a local path or a URI)."""
        return self.location.display()

    # ------------------------------------------------------------------------------------------- files
    def exists(self, rel: str) -> bool:
        return self.location.exists(rel)

    def open(self, rel: str):
        """A random-access binary file of `rel` (the folder's one file-opening call)."""
        return self.location.open_input(rel)

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as f:
            return f.read()

    def json(self, rel: str):
        """The parsed JSON file, or None when it is absent."""
        return json.loads(self.read_bytes(rel)) if self.exists(rel) else None

    @contextmanager
    def local_file(self, rel: str):
        """A local path of `rel` while the block runs: the file itself in a local folder, else a temporary copy
        (removed afterwards)."""
        if self.location.local:
            yield self.location.local_path(rel)
            return
        fd, tmp = tempfile.mkstemp(prefix="sdg-inspect-", suffix=PurePosixPath(rel).suffix)
        try:
            with os.fdopen(fd, "wb") as dst, self.open(rel) as src:
                shutil.copyfileobj(src, dst, 8 << 20)
            yield Path(tmp)
        finally:
            os.unlink(tmp)

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
        return self._manifest.files(FRAMES)

    def video_files(self) -> list[str]:
        """The video-level Parquet files of the committed clips (the manifest entries' `files["videos"]`)."""
        return [rel for rel in (_video_rel(e) for e in self.entries) if rel]

    # ------------------------------------------------------------------------------------------- tables
    def schema(self, rel: str) -> pa.Schema:
        with self.open(rel) as f:
            return pq.read_schema(f)

    def _read_table(self, rel: str) -> pa.Table:
        return self._manifest.read_table(rel)

    def table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        """A shard's columns (all of them, cached for the last two shards, when `columns` is None)."""
        if columns is None:
            return self._tables(rel)
        return self._manifest.read_table(rel, columns)

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

    def som_mp4(self, clip_id: str, variant: int, event_id: str | None = None) -> str | bytes | None:
        """A Set-of-Mark mp4 of a video (every mark, or one event's actors): the path (relative to the output) of
        the exported file under exports/videos/, else the bytes the clip's video rows hold; None when neither has
        it."""
        rel = f"exports/{som_video_path(clip_id, variant, event_id)}"
        if self.exists(rel):
            return rel
        entry = (self.manifest.get("clips") or {}).get(clip_id)
        rel = _video_rel(entry) if entry else None
        if not rel:
            return None
        for r in self._videos(rel).to_pylist():
            if r["variant"] != variant:
                continue
            if event_id is None:
                return r["som_video"] or None
            return next((e["som_video"] for e in r["event_videos"] or [] if e["event_id"] == event_id), None)
        return None


def _video_rel(entry: dict) -> str | None:
    """The clip's video-level rows file, None when the clip has none."""
    f = entry_files(entry).get(VIDEOS)
    return f["path"] if f else None
