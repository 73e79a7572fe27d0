"""`sdg run`: plan clips, skip what the manifest says is committed, stream the rest through the pipeline, commit
each clip's shard as it arrives, then write the exports."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from sdg.clips import ClipSpec, plan_clips
from sdg.config import JobConfig
from sdg.export.shards import Manifest
from sdg.pipeline import build_pipeline, run_local, run_ray
from sdg.metrics import StageRecord, StageSummary, format_table, progress_line, summarize
from sdg.placement import validate_plan
from sdg.work import ClipFailed, ClipWork

log = logging.getLogger("sdg.run")


@dataclass
class RunResult:
    out_dir: Path
    committed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> "stage: Error: message"
    failures: dict[str, ClipFailed] = field(default_factory=dict)
    trace: list[StageRecord] = field(default_factory=list)  # every stage's record of every clip (sdg.metrics)
    stages: list[StageSummary] = field(default_factory=list)  # per-stage figures of this run
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def preflight(cfg: JobConfig) -> list[ClipSpec]:
    """Everything that can be checked before any worker starts: cameras, recordings, scenario kinds, endpoints.
    Raises with a message naming the file/field."""
    specs = plan_clips(cfg)
    from sdg.scenes import scene_for

    for s in {spec.scenario_id: spec for spec in specs}.values():
        scene_for(s.scenario)  # builds (and validates) the scene once in the driver
    return specs


def init_ray(cfg: JobConfig) -> None:
    import ray

    if not ray.is_initialized():
        _start_ray(cfg)
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = True
    ctx.execution_options.preserve_order = False


def _start_ray(cfg: JobConfig) -> None:
    import ray

    kwargs = dict(log_to_driver=True, configure_logging=True, logging_level=logging.WARNING)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**kwargs)
    else:
        ray.init(num_cpus=cfg.resources.num_cpus, include_dashboard=False, **kwargs)


def run_job(cfg: JobConfig, out_dir: Path | None = None, executor: str = "ray", exports: bool = True,
            transport: bool = False) -> RunResult:
    """Run a job into ``out_dir``; ``transport`` makes the in-process executor pass every stage boundary through
    the Ray adapter's codec (a measure of its cost, and a check that it is lossless)."""
    t0 = time.time()
    out = Path(out_dir or cfg.output.dir)
    specs = preflight(cfg)
    manifest = Manifest(out, job=cfg.name)
    removed = manifest.clean_uncommitted()
    if removed:
        log.warning("removed %d uncommitted file(s) left by an earlier run", len(removed))
    result = RunResult(out_dir=out)
    todo = []
    for s in specs:
        if manifest.is_committed(s.clip_id):
            result.skipped.append(s.clip_id)
        else:
            todo.append(ClipWork(spec=s))
    if todo and executor != "local":
        init_ray(cfg)
        validate_plan(cfg, clips=len(todo))  # PlanError when the plan cannot be placed: nothing written yet
    manifest.save(config=json.loads(cfg.model_dump_json()), planned=[s.clip_id for s in specs])
    if todo:
        if executor == "local" and cfg.backends.serve != "never":
            # in-process executor: no cluster, so the stages use the backends' clients directly
            cfg = cfg.model_copy(update={"backends": cfg.backends.model_copy(update={"serve": "never"})})
        pipeline = build_pipeline(cfg, out)
        deployment = None
        if executor == "local":
            stream = run_local(pipeline, todo, transport=transport)
        else:
            init_ray(cfg)
            from sdg.serving.contract import uses_serve
            from sdg.serving.deploy import deploy

            if uses_serve(cfg):
                deployment = deploy(cfg)
            stream = run_ray(pipeline, todo)
        try:
            _consume(stream, manifest, result, len(todo), pipeline.pool_sizes())
        finally:
            if deployment is not None:
                from sdg.serving.deploy import shutdown

                shutdown(deployment)
    if exports and manifest.clips:
        write_exports(cfg, out, manifest)
    result.seconds = time.time() - t0
    manifest.save(last_run={"committed": result.committed, "skipped": result.skipped, "failed": result.failed,
                            "failures": {k: v.to_dict() for k, v in result.failures.items()},
                            "seconds": round(result.seconds, 2),
                            "stages": [s.to_dict() for s in result.stages]})
    return result


def _consume(stream, manifest: Manifest, result: RunResult, total: int, actors: dict[str, int]) -> None:
    for done, (item, trace) in enumerate(((d.item, d.trace) for d in stream), start=1):
        result.trace.extend(trace)
        if isinstance(item, ClipFailed):
            result.failed[item.clip_id] = str(item)
            result.failures[item.clip_id] = item
            log.error("clip %s failed: %s", item.clip_id, item)
        else:
            manifest.commit(item.shard.to_dict())
            result.committed.append(item.clip_id)
        log.info("%s", progress_line(result.trace, done, total, actors))
    result.stages = summarize(result.trace, actors=actors)
    if result.stages:
        log.info("stages of this run:\n%s", format_table(result.stages))


def iter_rows(manifest: Manifest, columns: list[str] | None = None):
    import pyarrow.parquet as pq

    for path in manifest.shard_paths():
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=16, columns=columns):
            yield from batch.to_pylist()


def write_exports(cfg: JobConfig, out: Path, manifest: Manifest) -> dict[str, Path]:
    """Per split (by scenario): the configured exports, then AI City / WTS / Q&A lines, reports and the card
    (sdg.export.dataset)."""
    from sdg.export.dataset import DatasetExport

    written = {}
    target = out / "exports"
    target.mkdir(parents=True, exist_ok=True)
    dataset = DatasetExport(cfg, out, manifest)
    for name in cfg.output.exports:
        written[name] = dataset.export(name, target)
    written.update(dataset.finish(target))
    return written
