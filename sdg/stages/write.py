"""Write: a clip's tables -> one Parquet file each, published atomically to the output location (a local folder or
an object store, sdg.storage) from whichever node runs the task. The driver commits the entry in the manifest.

``TABLES`` maps a table name to the work-item field holding it: a stage adding another per-clip table (a new field
of sdg.work.ClipWork) adds one line here and the field to ``needs``; every table of a clip is published before the
entry is returned, and the manifest lists them together.
"""
from __future__ import annotations

import json

from sdg.export.shards import FRAMES, VIDEOS, write_clip
from sdg.stages.base import Stage
from sdg.work import ClipWork, ShardEntry

TABLES = {FRAMES: "rows", VIDEOS: "videos"}  # table name -> ClipWork field


def clip_stats(rows) -> dict:
    """Facts for the run summary from the rows' provenance: ``augment_retries`` (the retries the augmenter needed,
    summed over the clip's variants)."""
    if rows is None or rows.num_rows == 0 or "provenance" not in rows.column_names:
        return {}
    per_variant = {}
    for v, p in zip(rows.column("variant").to_pylist(), rows.column("provenance").to_pylist()):
        if v not in per_variant and p:
            per_variant[v] = json.loads(p)
    retries = sum(int(p.get("retries") or 0) for p in per_variant.values())
    return {"augment_retries": retries}


class WriteStage(Stage):
    name = "write"
    needs = tuple(TABLES.values())
    adds = ("shard",)

    def __init__(self, cfg, out_dir: str):
        super().__init__(cfg)
        self.out_dir = str(out_dir)  # a local path or a URI (s3://bucket/prefix): every worker opens it itself

    def process(self, work: ClipWork) -> ClipWork:
        tables = {name: getattr(work, field) for name, field in TABLES.items() if getattr(work, field) is not None}
        entry = write_clip(self.out_dir, work.clip_id, tables, self.cfg.output.row_group_bytes)
        work.shard = ShardEntry(**entry, stats=clip_stats(work.rows))
        return work
