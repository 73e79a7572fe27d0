"""Write: a clip's rows -> one Parquet shard, committed atomically. The driver records it in the manifest."""
from __future__ import annotations

import json
from pathlib import Path

from sdg.export.shards import write_shard
from sdg.stages.base import Footprint, Stage
from sdg.stages.postprocess import table_from_bytes


class WriteStage(Stage):
    name = "write"

    @property
    def footprint(self) -> Footprint:
        return Footprint(num_cpus=min(0.25, self.cfg.resources.stage_cpus))

    def __init__(self, cfg, out_dir: str | Path):
        super().__init__(cfg)
        self.out_dir = Path(out_dir)

    def process(self, row: dict) -> dict:
        entry = write_shard(self.out_dir, row["clip_id"], table_from_bytes(row["table"]),
                            self.cfg.output.row_group_bytes)
        return {"clip_id": row["clip_id"], "entry": json.dumps(entry)}
