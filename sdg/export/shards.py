"""Parquet shards committed atomically, and the manifest that makes re-runs resume.

A shard holds every row (variant x frame) of one clip: `shards/part-<clip_id>.parquet`. It is written to a temp
file in the same folder, fsynced, then renamed, so a crash never leaves a half-written shard under its final name.
`manifest.json` lists committed clips; it is rewritten atomically by the driver after each commit.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sdg.export.files import atomic_write_bytes
from sdg.model import ROW_SCHEMA

MANIFEST = "manifest.json"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def shard_name(clip_id: str) -> str:
    return f"part-{_SAFE.sub('_', clip_id)}.parquet"


def _rows_per_group(table: pa.Table, target_bytes: int) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, int(target_bytes // per_row))


def write_shard(out_dir: Path, clip_id: str, table: pa.Table, row_group_bytes: int = 64 << 20) -> dict:
    """Write one clip's rows atomically; returns the manifest entry."""
    if not table.schema.equals(ROW_SCHEMA):
        raise ValueError(f"clip {clip_id}: table schema differs from sdg.model.ROW_SCHEMA")
    shards = Path(out_dir) / "shards"
    shards.mkdir(parents=True, exist_ok=True)
    final = shards / shard_name(clip_id)
    tmp = shards / f".{final.name}.{os.getpid()}.tmp"
    pq.write_table(table, tmp, row_group_size=_rows_per_group(table, row_group_bytes), compression="zstd")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
        digest = hashlib.sha256(f.read()).hexdigest()
    os.replace(tmp, final)
    return {
        "clip_id": clip_id,
        "shard": f"shards/{final.name}",
        "rows": table.num_rows,
        "bytes": final.stat().st_size,
        "sha256": digest,
        "committed_at": time.time(),
    }


class Manifest:
    """The committed clips of one output folder."""

    def __init__(self, out_dir: Path, job: str | None = None):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / MANIFEST
        self.data = {"job": job, "clips": {}}
        if self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except json.JSONDecodeError as e:
                raise ValueError(f"{self.path}: corrupt manifest ({e}); delete it to regenerate everything") from None
            if job is not None and self.data.get("job") not in (None, job):
                raise ValueError(
                    f"{self.path}: belongs to job {self.data.get('job')!r}, not {job!r}; use another --output"
                )

    @property
    def clips(self) -> dict:
        return self.data["clips"]

    def is_committed(self, clip_id: str) -> bool:
        entry = self.clips.get(clip_id)
        return bool(entry) and (self.out_dir / entry["shard"]).exists()

    def commit(self, entry: dict) -> None:
        self.clips[entry["clip_id"]] = entry
        self.save()

    def save(self, **extra) -> None:
        self.data.update(extra)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self.path, json.dumps(self.data, indent=1, sort_keys=True).encode())

    def clean_uncommitted(self) -> list[Path]:
        """Remove temp files and shards a crash left behind without a manifest entry (they are redone)."""
        shards = self.out_dir / "shards"
        removed = []
        if not shards.exists():
            return removed
        known = {Path(e["shard"]).name for e in self.clips.values()}
        for p in shards.iterdir():
            if p.name.endswith(".tmp") or (p.suffix == ".parquet" and p.name not in known):
                p.unlink()
                removed.append(p)
        return removed

    def shard_paths(self) -> list[Path]:
        return [self.out_dir / e["shard"] for _, e in sorted(self.clips.items())]
