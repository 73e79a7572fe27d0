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
from sdg.work import ClipFailed, ClipWork

log = logging.getLogger("sdg.run")


@dataclass
class RunResult:
    out_dir: Path
    committed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # clip id -> "stage: Error: message"
    failures: dict[str, ClipFailed] = field(default_factory=dict)
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

    if ray.is_initialized():
        return
    kwargs = dict(log_to_driver=True, configure_logging=True, logging_level=logging.WARNING)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**kwargs)
    else:
        ray.init(num_cpus=cfg.resources.num_cpus, include_dashboard=False, **kwargs)
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = True
    ctx.execution_options.preserve_order = False


def standing_cpus(cfg: JobConfig, serving: bool) -> dict[str, float]:
    """CPUs the Ray pipeline holds for its whole run: the simulate and augment actor pools, one task of the other
    stages, and with Serve the apps' replicas (their minimum: one per Cosmos server, one builtin, one prompt)."""
    r = cfg.resources
    parts = {"simulate actors": r.simulators * r.simulator_cpus, "augment actors": r.augmenters * r.stage_cpus,
             "a stage task": r.stage_cpus}
    if serving:
        from sdg.augment.cosmos import cosmos_urls
        from sdg.serving.contract import AUGMENT_APP, PROMPT_APP, replica_needs

        needs = replica_needs(cfg)
        n = max(1, len(cosmos_urls(cfg))) if cfg.backends.augmenter == "cosmos" else 1
        parts["augment replicas"] = n * needs[AUGMENT_APP]["CPU"]
        parts["prompt replica"] = needs[PROMPT_APP]["CPU"]
    return parts


def warn_if_oversubscribed(cfg: JobConfig, serving: bool) -> bool:
    """Warn (and return True) when the standing reservations exceed the cluster's CPUs: Ray would then wait
    forever for an actor or replica to be placed (unless an autoscaler adds nodes)."""
    import ray

    parts = standing_cpus(cfg, serving)
    total = float(ray.cluster_resources().get("CPU", 0.0))
    if sum(parts.values()) <= total + 1e-9:
        return False
    detail = ", ".join(f"{k} {v:g}" for k, v in parts.items())
    log.warning("the pipeline reserves %.2f CPUs (%s) but the cluster has %g: it will wait for resources that may "
                "never free; lower resources.simulator_cpus / stage_cpus / simulators / augmenters or add nodes",
                sum(parts.values()), detail, total)
    return True


def run_job(cfg: JobConfig, out_dir: Path | None = None, executor: str = "ray", exports: bool = True) -> RunResult:
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
    manifest.save(config=json.loads(cfg.model_dump_json()), planned=[s.clip_id for s in specs])
    if todo:
        if executor == "local" and cfg.backends.serve != "never":
            # in-process executor: no cluster, so the stages use the backends' clients directly
            cfg = cfg.model_copy(update={"backends": cfg.backends.model_copy(update={"serve": "never"})})
        pipeline = build_pipeline(cfg, out)
        deployment = None
        if executor == "local":
            stream = run_local(pipeline, todo)
        else:
            init_ray(cfg)
            from sdg.serving.contract import uses_serve
            from sdg.serving.deploy import deploy

            warn_if_oversubscribed(cfg, uses_serve(cfg))
            if uses_serve(cfg):
                deployment = deploy(cfg)
            stream = run_ray(pipeline, todo)
        try:
            _consume(stream, manifest, result)
        finally:
            if deployment is not None:
                from sdg.serving.deploy import shutdown

                shutdown(deployment)
    if exports and manifest.clips:
        write_exports(cfg, out, manifest)
    result.seconds = time.time() - t0
    manifest.save(last_run={"committed": result.committed, "skipped": result.skipped, "failed": result.failed,
                            "failures": {k: v.to_dict() for k, v in result.failures.items()},
                            "seconds": round(result.seconds, 2)})
    return result


def _consume(stream, manifest: Manifest, result: RunResult) -> None:
    for item in stream:
        if isinstance(item, ClipFailed):
            result.failed[item.clip_id] = str(item)
            result.failures[item.clip_id] = item
            log.error("clip %s failed: %s", item.clip_id, item)
            continue
        manifest.commit(item.shard.to_dict())
        result.committed.append(item.clip_id)


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
