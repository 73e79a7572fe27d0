"""The pipeline is the list of stages; an executor runs it (Ray Data streaming, or in-process).

    simulate -> groundtruth -> augment -> postprocess -> write

Building a :class:`Pipeline` checks the stage contract once: every field a stage needs is added by an earlier stage
(else :class:`sdg.work.ContractError` names the stage and the field), and it works out which fields are still read
downstream after each stage, so the rest is dropped as soon as it is no longer needed.

A clip that fails in a stage becomes a :class:`sdg.work.ClipFailed` that later stages pass through; the driver
records it and the run exits non-zero after the other clips are committed. Nothing of a failed clip is written.
Only the Ray adapter here converts work items to and from Ray Data rows (with sdg.transport).
"""
from __future__ import annotations

import logging
import random
import time
import traceback
import uuid
from dataclasses import dataclass
from typing import Iterable, Iterator

from sdg.config import JobConfig
from sdg.stages.augment import AugmentStage
from sdg.stages.base import Stage
from sdg.stages.groundtruth import GroundTruthStage
from sdg.stages.postprocess import PostprocessStage
from sdg.stages.simulate import SimulateStage
from sdg.stages.write import WriteStage
from sdg.work import WORK_FIELDS, ClipFailed, ClipWork, ContractError, WorkItem, may_retry

log = logging.getLogger("sdg.pipeline")


@dataclass(frozen=True)
class StagePlan:
    """A stage to build in a worker: its class and constructor arguments (picklable)."""

    cls: type[Stage]
    args: tuple

    @property
    def name(self) -> str:
        return self.cls.name

    def build(self) -> Stage:
        return self.cls(*self.args)


class Pipeline:
    """Stages in order, checked against each other; ``outputs``: the fields the caller reads from the results."""

    def __init__(self, stages: list[StagePlan], outputs: tuple[str, ...] = (), retries: int = 0,
                 backoff: float = 1.0):
        self.stages = list(stages)
        self.outputs = tuple(outputs)
        self.keep_after = check_contract(self.stages, self.outputs)
        self.retries, self.backoff = int(retries), float(backoff)  # per clip and stage (see apply_stage)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]


def check_contract(stages: list[StagePlan], outputs: tuple[str, ...] = ()) -> list[set[str]]:
    """Raise ContractError unless each stage's needs are added by an earlier stage; return, per stage, the fields
    still needed after it (by a later stage or by the caller)."""
    have = {"spec": "the planner"}
    for s in stages:
        for f in (*s.cls.needs, *s.cls.adds):
            if f not in WORK_FIELDS:
                raise ContractError(f"stage {s.name!r} declares an unknown field {f!r} "
                                    f"(fields: {', '.join(WORK_FIELDS)})")
        for f in s.cls.needs:
            if f not in have:
                later = [t.name for t in stages if f in t.cls.adds]
                where = f" ({', '.join(later)} adds it, but runs later)" if later else ""
                raise ContractError(f"stage {s.name!r} needs {f!r}, which no earlier stage adds{where}")
        for f in s.cls.adds:
            if f in have:
                raise ContractError(f"stage {s.name!r} adds {f!r}, already added by {have[f]}")
            have[f] = s.name
    for f in outputs:
        if f not in have:
            raise ContractError(f"the pipeline's result needs {f!r}, which no stage adds")
    later, after = set(outputs), []
    for s in reversed(stages):
        after.append(set(later))
        later |= set(s.cls.needs)
    present, keep = set(), []
    for s, needed in zip(stages, after[::-1]):
        present |= set(s.cls.adds)
        keep.append(needed & present)
    return keep


def build_pipeline(cfg: JobConfig, out_dir) -> Pipeline:
    return Pipeline([
        StagePlan(SimulateStage, (cfg,)),
        StagePlan(GroundTruthStage, (cfg,)),
        StagePlan(AugmentStage, (cfg,)),
        StagePlan(PostprocessStage, (cfg,)),
        StagePlan(WriteStage, (cfg, str(out_dir))),
    ], outputs=("shard",), retries=cfg.resources.clip_retries, backoff=cfg.resources.retry_backoff)


def apply_stage(stage: Stage, item: WorkItem, retries: int = 0, backoff: float = 1.0) -> WorkItem:
    """One stage on one work item: the stage sees ``spec`` and its ``needs`` only and gives back its ``adds``; an
    exception becomes a ClipFailed (passed through by later stages). A transient failure (sdg.work.may_retry) is
    retried up to ``retries`` times after a jittered, doubling wait starting at ``backoff`` seconds; the failure
    records how many attempts were made."""
    if isinstance(item, ClipFailed):
        return item
    attempt = 0
    while True:
        attempt += 1
        try:
            out = stage.process(item.only(stage.needs))
            return item.updated(out, stage.adds)
        except Exception as e:  # noqa: BLE001 - reported per clip, the run goes on
            log.debug("stage %s failed on %s:\n%s", stage.name, item.clip_id, traceback.format_exc())
            if attempt > retries or not may_retry(e):
                return ClipFailed.of(item.clip_id, stage.name, e, attempts=attempt)
            wait = min(60.0, backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            log.warning("stage %s failed on clip %s (%s: %s); retry %d/%d in %.1f s", stage.name, item.clip_id,
                        type(e).__name__, str(e)[:200], attempt, retries, wait)
            time.sleep(wait)


# ------------------------------------------------------------------------------------------------ executors
def run_local(pipeline: Pipeline, items: Iterable[ClipWork]) -> Iterator[WorkItem]:
    """In-process executor: the same stages, one clip at a time (tests, debugging, `--executor local`)."""
    stages = [p.build() for p in pipeline.stages]
    for s in stages:
        s.setup()
    for item in items:
        for s, keep in zip(stages, pipeline.keep_after):
            item = apply_stage(s, item, pipeline.retries, pipeline.backoff)
            if isinstance(item, ClipWork):
                item = item.only(keep)
        yield item


_WORKER_STAGES: dict = {}


def _row_fn(plan: StagePlan, keep: set[str], run_token: str, cached: bool, retries: tuple[int, float] = (0, 1.0)):
    """The Ray Data function of one stage: decode the fields it needs from each row, run it, encode what it adds,
    copy what later stages need, drop the rest. Stateless stages are built once per worker process and run: worker
    processes outlive runs, so that cache is keyed by the run too."""

    def stage_for() -> Stage:
        key = (run_token, plan.name)
        stage = _WORKER_STAGES.get(key)
        if stage is None:
            for old in [k for k in _WORKER_STAGES if k[0] != run_token]:
                del _WORKER_STAGES[old]
            stage = plan.build()
            stage.setup()
            _WORKER_STAGES[key] = stage
        return stage

    def run(batch, stage: Stage):
        import pyarrow as pa

        from sdg.transport import decode_item, update_item

        ids, blobs = [], []
        for i in range(batch.num_rows):
            blob = batch.column("work")[i].as_buffer()
            item = apply_stage(stage, decode_item(blob, stage.needs), *retries)
            ids.append(item.clip_id)
            blobs.append(update_item(blob, item, stage.adds, keep))
        return pa.table({"clip_id": pa.array(ids, pa.string()), "work": pa.array(blobs, pa.large_binary())})

    if cached:
        def fn(batch):
            return run(batch, stage_for())

        fn.__name__ = fn.__qualname__ = plan.name
        return fn

    class ActorStage:
        def __init__(self):
            self.stage = plan.build()
            self.stage.setup()

        def __call__(self, batch):
            return run(batch, self.stage)

    ActorStage.__name__ = ActorStage.__qualname__ = plan.name
    return ActorStage


def run_ray(pipeline: Pipeline, items: list[ClipWork]) -> Iterator[WorkItem]:
    """Ray Data executor: streaming, one operator per stage with its declared resources."""
    import pyarrow as pa
    import ray
    from ray.data import ActorPoolStrategy

    from sdg.transport import decode_item, encode_item

    run_token = uuid.uuid4().hex
    ds = ray.data.from_arrow([
        pa.table({"clip_id": pa.array([w.clip_id], pa.string()), "work": pa.array([encode_item(w)], pa.large_binary())})
        for w in items])
    retries = (pipeline.retries, pipeline.backoff)
    for plan, keep in zip(pipeline.stages, pipeline.keep_after):
        fp = plan.build().reserved()
        common = dict(batch_size=1, batch_format="pyarrow", num_cpus=fp.num_cpus)
        if fp.num_gpus:
            common["num_gpus"] = fp.num_gpus
        if fp.resources:
            common["resources"] = dict(fp.resources)
        # a clip whose worker process dies is re-run by Ray at most `retries` times (dead actors are replaced)
        if fp.actors:
            ds = ds.map_batches(_row_fn(plan, keep, run_token, False, retries),
                                compute=ActorPoolStrategy(size=fp.actors), max_restarts=-1,
                                max_task_retries=pipeline.retries, **common)
        else:
            ds = ds.map_batches(_row_fn(plan, keep, run_token, True, retries), max_retries=pipeline.retries, **common)
    for row in ds.iter_rows():
        yield decode_item(row["work"], pipeline.outputs)


__all__ = ["Pipeline", "StagePlan", "build_pipeline", "check_contract", "apply_stage", "run_local", "run_ray",
           "ContractError"]
