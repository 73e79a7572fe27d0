"""Per-clip Parquet files published atomically to any output location (sdg.storage), and the manifest that says
which clips are committed, from what inputs, and which failed.

A clip publishes one file per table (:func:`write_clip`): the frame rows (``frames`` ->
``shards/part-<clip_id>.parquet``, schema ``sdg.model.ROW_SCHEMA``) and the video-level rows (``videos`` ->
``videos/part-<clip_id>.parquet``, ``sdg.model.VIDEO_SCHEMA``); any other table ``name`` goes to
``<name>/part-<clip_id>.parquet``. Each file is published atomically by the write task on whichever node it runs;
the clip counts as committed only when the driver records the entry, listing every file of the clip with its size
and sha256, in ``manifest.json`` (itself replaced atomically). So a clip's files are all visible to manifest readers
or none is, and files not listed (a crash between publish and commit) are removed by the next run.

``manifest.json`` (format 2)::

    {"format": 2, "job": name, "location": uri, "config": {...last run's config...}, "config_fingerprint": ...,
     "configs": {config fingerprint: {dotted config field: value}},        # what the fingerprints were made of
     "clips": {clip_id: {"clip_id", "shard", "rows", "bytes", "sha256", "committed_at",
                         "files": {table: {"path", "rows", "bytes", "sha256"}},
                         "fingerprint", "config_fingerprint", "inputs": {dotted clip field: value}}},
     "failed": {clip_id: {"stage", "error", "message", "retryable", "attempts", "at"}},
     "planned": [...], "last_run": {...}}
"""
from __future__ import annotations

import json
import re
import time
from pathlib import PurePosixPath

import pyarrow as pa
import pyarrow.parquet as pq

from sdg.model import ROW_SCHEMA, VIDEO_SCHEMA
from sdg.storage import Location, is_temp_name, open_location

MANIFEST = "manifest.json"
FORMAT = 2
FRAMES, VIDEOS = "frames", "videos"  # the frame rows (shards/) and the video-level rows (videos/) of a clip
TABLE_SCHEMAS = {FRAMES: ROW_SCHEMA, VIDEOS: VIDEO_SCHEMA}  # tables with a fixed schema (checked before writing)
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class ManifestError(ValueError):
    """A manifest that cannot be used as it is (corrupt, another job's); the message says what to do."""


class JobMismatch(ManifestError):
    """The output holds another job: its rows' ids would collide."""


def shard_name(clip_id: str) -> str:
    return f"part-{_SAFE.sub('_', clip_id)}.parquet"


def table_dir(table: str) -> str:
    """The folder of a table's per-clip files: ``shards`` for the frame rows, else the table's name."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", table):
        raise ValueError(f"table name {table!r}: use lower-case letters, digits and _")
    return "shards" if table == FRAMES else table


def _rows_per_group(table: pa.Table, target_bytes: int) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, int(target_bytes // per_row))


def write_clip(location, clip_id: str, tables: dict[str, pa.Table], row_group_bytes: int = 64 << 20) -> dict:
    """Publish every table of one clip (``{table name: Arrow table}``) atomically, each to
    ``<table dir>/part-<clip_id>.parquet``; returns the clip's manifest entry (not yet committed: the driver
    commits it). Schemas are checked before anything is written."""
    if not tables:
        raise ValueError(f"clip {clip_id}: no table to write")
    for name, table in tables.items():
        table_dir(name)
        want = TABLE_SCHEMAS.get(name)
        if want is not None and not table.schema.equals(want):
            raise ValueError(f"clip {clip_id}: table {name!r} schema differs from the one it must have "
                             f"(sdg.model.{'ROW_SCHEMA' if name == FRAMES else 'VIDEO_SCHEMA'})")
    loc = open_location(location)
    files = {}
    for name, table in tables.items():
        rel = f"{table_dir(name)}/{shard_name(clip_id)}"
        groups = _rows_per_group(table, row_group_bytes)
        pub = loc.publish(rel, lambda f, t=table, g=groups: pq.write_table(t, f, row_group_size=g,
                                                                           compression="zstd"))
        files[name] = {"path": rel, "rows": table.num_rows, "bytes": pub.size, "sha256": pub.sha256}
    main = files.get(FRAMES) or next(iter(files.values()))
    return {"clip_id": clip_id, "shard": main["path"], "rows": main["rows"], "bytes": main["bytes"],
            "sha256": main["sha256"], "committed_at": time.time(), "files": files}


def write_shard(location, clip_id: str, table: pa.Table, row_group_bytes: int = 64 << 20) -> dict:
    """One clip's frame rows (``ROW_SCHEMA``) -> ``shards/part-<clip_id>.parquet``; returns the manifest entry."""
    return write_clip(location, clip_id, {FRAMES: table}, row_group_bytes)


def entry_files(entry: dict) -> dict[str, dict]:
    """{table: file record} of a manifest entry (entries of format 1 list only the frame shard)."""
    return entry.get("files") or {FRAMES: {"path": entry["shard"], "rows": entry.get("rows"),
                                           "bytes": entry.get("bytes"), "sha256": entry.get("sha256")}}


class Manifest:
    """The committed clips of one output location (local folder or object store)."""

    def __init__(self, location, job: str | None = None):
        self.location: Location = open_location(location)
        self.data: dict = {"format": FORMAT, "job": job, "clips": {}, "failed": {}, "configs": {}}
        try:
            raw = self.location.read_bytes(MANIFEST)
        except FileNotFoundError:
            raw = None
        if raw is not None:
            try:
                self.data = json.loads(raw)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{self.path}: corrupt manifest ({e}); delete it (or run with --overwrite) to "
                                    "regenerate everything") from None
            for key, empty in (("clips", {}), ("failed", {}), ("configs", {})):
                self.data.setdefault(key, empty)
            if job is not None and self.data.get("job") not in (None, job):
                raise JobMismatch(
                    f"{self.path}: belongs to job {self.data.get('job')!r}, not {job!r} (the job name is part of every "
                    "row's ids, so the two cannot be mixed); use another --output, or --overwrite to replace it")
            if job is not None:
                self.data["job"] = job

    @property
    def path(self) -> str:
        return self.location.display(MANIFEST)

    @property
    def exists(self) -> bool:
        return self.location.exists(MANIFEST)

    @property
    def clips(self) -> dict:
        return self.data["clips"]

    @property
    def failed(self) -> dict:
        return self.data["failed"]

    @property
    def configs(self) -> dict:
        return self.data["configs"]

    def listing(self) -> dict[str, int]:
        """{relative path: size} of every file under the tables' folders (one listing, not one request per clip)."""
        out: dict[str, int] = {}
        for d in self._table_dirs():
            out.update(self.location.list(d))
        return out

    def _table_dirs(self) -> set[str]:
        dirs = {table_dir(t) for t in TABLE_SCHEMAS}
        for e in self.clips.values():
            dirs |= {str(PurePosixPath(f["path"]).parent) for f in entry_files(e).values()}
        return dirs

    def missing_files(self, clip_id: str, listing: dict[str, int] | None = None) -> list[str]:
        """The files of a committed clip that are absent (or of another size than recorded)."""
        entry = self.clips.get(clip_id)
        if not entry:
            return []
        listing = self.listing() if listing is None else listing
        return [f["path"] for f in entry_files(entry).values()
                if f["path"] not in listing or (f.get("bytes") is not None and listing[f["path"]] != f["bytes"])]

    def is_committed(self, clip_id: str, listing: dict[str, int] | None = None) -> bool:
        return clip_id in self.clips and not self.missing_files(clip_id, listing)

    def commit(self, entry: dict) -> None:
        self.clips[entry["clip_id"]] = entry
        self.failed.pop(entry["clip_id"], None)
        self.save()

    def uncommit(self, clip_ids) -> None:
        """Forget clips about to be redone (their files are replaced by the new ones or cleaned up later), so the
        manifest never lists a file whose content is being rewritten."""
        for c in clip_ids:
            self.clips.pop(c, None)

    def record_failure(self, clip_id: str, failure: dict) -> None:
        self.failed[clip_id] = {**failure, "at": time.time()}

    def save(self, **extra) -> None:
        self.data.update(extra)
        self.data["format"] = FORMAT
        self.data["location"] = self.location.uri
        used = {e.get("config_fingerprint") for e in self.clips.values()} | {self.data.get("config_fingerprint")}
        self.data["configs"] = {k: v for k, v in self.configs.items() if k in used}
        self.location.write_bytes(MANIFEST, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def clean_uncommitted(self) -> list[PurePosixPath]:
        """Remove temp files and per-clip files a crash left behind without a manifest entry (they are redone)."""
        known = {f["path"] for e in self.clips.values() for f in entry_files(e).values()}
        removed = []
        for rel in sorted(self.listing()):
            name = PurePosixPath(rel).name
            if is_temp_name(name) or (name.endswith(".parquet") and rel not in known):
                self.location.delete(rel)
                removed.append(PurePosixPath(rel))
        return removed

    def files(self, table: str = FRAMES) -> list[str]:
        """The committed files of ``table`` (paths relative to the location), in clip order."""
        return [entry_files(e)[table]["path"] for _, e in sorted(self.clips.items()) if table in entry_files(e)]

    def shard_paths(self, table: str = FRAMES) -> list:
        """Full paths of the committed files of ``table``: ``pathlib.Path`` for a local folder, else the
        filesystem path (``bucket/prefix/...``) as a PurePosixPath, to open with ``location.fs``."""
        from pathlib import Path

        wrap = Path if self.location.local else PurePosixPath
        return [wrap(self.location.path(rel)) for rel in self.files(table)]

    def read_table(self, rel: str, columns: list[str] | None = None) -> pa.Table:
        with self.location.open_input(rel) as f:
            return pq.read_table(f, columns=columns)
