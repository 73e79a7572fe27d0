"""Write: a clip's rows -> one Parquet shard, committed atomically. The driver records it in the manifest."""
from __future__ import annotations

from sdg.export.shards import write_shard
from sdg.export.video_rows import write_video_rows
from sdg.stages.base import Stage
from sdg.work import ClipWork, ShardEntry


class WriteStage(Stage):
    name = "write"
    needs = ("rows", "videos")
    adds = ("shard",)

    def __init__(self, cfg, out_dir: str):
        super().__init__(cfg)
        self.out_dir = out_dir

    def process(self, work: ClipWork) -> ClipWork:
        entry = write_shard(self.out_dir, work.clip_id, work.rows, self.cfg.output.row_group_bytes)
        if work.videos is not None:  # the clip's video-level rows, next to the shard: videos/part-<clip>.parquet
            entry["videos"] = write_video_rows(self.out_dir, work.clip_id, work.videos)
        work.shard = ShardEntry(**entry)
        return work
