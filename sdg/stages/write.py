"""Write: a clip's rows -> one Parquet shard, committed atomically. The driver records it in the manifest."""
from __future__ import annotations

from sdg.export.shards import write_shard
from sdg.stages.base import Stage
from sdg.work import ClipWork, ShardEntry


class WriteStage(Stage):
    name = "write"
    needs = ("rows",)
    adds = ("shard",)

    def __init__(self, cfg, out_dir: str):
        super().__init__(cfg)
        self.out_dir = out_dir

    def process(self, work: ClipWork) -> ClipWork:
        entry = write_shard(self.out_dir, work.clip_id, work.rows, self.cfg.output.row_group_bytes)
        work.shard = ShardEntry(**entry)
        return work
