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

import dataclasses
import functools
import json
import logging
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from sdg.config import JobConfig
from sdg.metrics import StageRecord, StageTimer, export_to_ray
from sdg.stages.augment import AugmentStage
from sdg.stages.base import Stage
from sdg.stages.groundtruth import GroundTruthStage
from sdg.stages.postprocess import PostprocessStage
from sdg.stages.simulate import SimulateStage
from sdg.stages.write import WriteStage
from sdg.work import WORK_FIELDS, ClipFailed, ClipWork, ContractError, WorkItem

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
    """Stages in order, checked against each other; ``outputs``: the fields the caller reads from the results;
    ``attempts``: how often a stage may run on one clip when it fails with a retryable error (``ClipFailed.retryable``:
    a server, a connection, a lost worker), waiting ``retry_delay_s`` × attempt between tries."""

    def __init__(self, stages: list[StagePlan], outputs: tuple[str, ...] = (), attempts: int = 1,
                 retry_delay_s: float = 1.0):
        self.stages = list(stages)
        self.outputs = tuple(outputs)
        self.attempts = max(1, int(attempts))
        self.retry_delay_s = float(retry_delay_s)
        self.keep_after = check_contract(self.stages, self.outputs)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.stages]

    def pool_sizes(self) -> dict[str, int]:
        """Stages that run as actor pools -> their number of actors."""
        return {p.name: fp.actors for p in self.stages if (fp := p.build().footprint).actors}


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
    ], outputs=("shard",), attempts=cfg.resources.clip_retries + 1, retry_delay_s=cfg.resources.retry_backoff)


@dataclass
class Done:
    """What an executor yields per clip: the work item (with the pipeline's ``outputs``) or its failure, and the
    records of every stage it went through (sdg.metrics)."""

    item: WorkItem
    trace: list[StageRecord] = field(default_factory=list)


def _worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def apply_stage(stage: Stage, item: WorkItem, attempts: int = 1, retry_delay_s: float = 1.0,
                trace: list[StageRecord] | None = None) -> WorkItem:
    """One stage on one work item: the stage sees ``spec`` and its ``needs`` only and gives back its ``adds``; an
    exception becomes a ClipFailed (passed through by later stages), after up to ``attempts`` tries when it is
    retryable. The stage's :class:`StageRecord` is appended to ``trace``."""
    if isinstance(item, ClipFailed):
        return item
    with StageTimer(item.clip_id, stage.name, _worker()) as timer:
        for attempt in range(1, attempts + 1):
            try:
                out = item.updated(stage.process(item.only(stage.needs)), stage.adds)
                break
            except Exception as e:  # noqa: BLE001 - reported per clip, the run goes on
                log.debug("stage %s failed on %s (attempt %d):\n%s", stage.name, item.clip_id, attempt,
                          traceback.format_exc())
                out = ClipFailed.of(item.clip_id, stage.name, e, attempts=attempt)
                if not out.retryable or attempt == attempts:
                    break
                log.warning("clip %s: %s (attempt %d of %d), retrying", item.clip_id, out, attempt, attempts)
                time.sleep(retry_delay_s * attempt)
    record = timer.record(ok=isinstance(out, ClipWork), attempts=attempt)
    if trace is not None:
        trace.append(record)
    export_to_ray(record)
    return out


# ------------------------------------------------------------------------------------------------ executors
def run_local(pipeline: Pipeline, items: Iterable[ClipWork], transport: bool = False) -> Iterator[Done]:
    """In-process executor: the same stages, one clip at a time (tests, debugging, `--executor local`). With
    ``transport``, every stage boundary goes through the Ray adapter's encoding (sdg.transport) as it would between
    Ray workers: a check that the codec is lossless, and a measure of its cost (``StageRecord.transport_cpu``)."""
    stages = [p.build() for p in pipeline.stages]
    for s in stages:
        s.setup()
    for item in items:
        trace: list[StageRecord] = []
        blob = _encode_first(item) if transport else None
        for s, keep in zip(stages, pipeline.keep_after):
            if blob is not None:
                blob, item = _through_transport(s, blob, keep, pipeline, trace)
                continue
            item = apply_stage(s, item, pipeline.attempts, pipeline.retry_delay_s, trace)
            if isinstance(item, ClipWork):
                item = item.only(keep)
        if blob is not None:
            from sdg.transport import decode_item

            item = decode_item(blob, pipeline.outputs)
        yield Done(item, trace)


def _encode_first(item: ClipWork) -> bytes:
    from sdg.transport import encode_item

    return encode_item(item)


def _through_transport(stage: Stage, blob, keep: set[str], pipeline: Pipeline, trace: list[StageRecord]):
    """One stage as the Ray adapter runs it: decode its needs from ``blob``, apply it, encode what it adds and copy
    what later stages need. Returns the new blob and the (decoded) item, and records the codec's CPU time."""
    from sdg.transport import decode_item, update_item

    c0 = time.process_time()
    item = decode_item(blob, stage.needs)
    c1 = time.process_time()
    out = apply_stage(stage, item, pipeline.attempts, pipeline.retry_delay_s, trace)
    c2 = time.process_time()
    blob = update_item(blob, out, stage.adds, keep)
    spent = (c1 - c0) + (time.process_time() - c2)
    if trace and trace[-1].stage == stage.name:
        trace[-1] = dataclasses.replace(trace[-1], transport_cpu=spent)
    return blob, out


_WORKER_STAGES: dict = {}
ACTOR_START_S = 900.0  # how long an actor pool may take to start (CARLA servers load maps, Cosmos loads weights)


def _row_fn(plan: StagePlan, keep: set[str], run_token: str, cached: bool, attempts: int = 1,
            retry_delay_s: float = 1.0, scenes: dict | None = None):
    """The Ray Data function of one stage: decode the fields it needs from each row, run it, encode what it adds,
    copy what later stages need, drop the rest. Stateless stages are built once per worker process and run: worker
    processes outlive runs, so that cache is keyed by the run too."""

    def build() -> Stage:
        """The stage, set up in this worker process, which fetches the run's shared scenes instead of building them."""
        if scenes:
            import ray

            from sdg.scenes import share_scenes

            share_scenes({key: functools.partial(ray.get, ref) for key, ref in scenes.items()})
        stage = plan.build()
        stage.setup()
        return stage

    def stage_for() -> Stage:
        key = (run_token, plan.name)
        stage = _WORKER_STAGES.get(key)
        if stage is None:
            for old in [k for k in _WORKER_STAGES if k[0] != run_token]:
                del _WORKER_STAGES[old]
            stage = _WORKER_STAGES[key] = build()
        return stage

    def run(batch, stage: Stage):
        import pyarrow as pa

        from sdg.transport import decode_item, update_item

        ids, blobs, traces = [], [], []
        for i in range(batch.num_rows):
            c0 = time.process_time()
            blob = batch.column("work")[i].as_buffer()
            item = decode_item(blob, stage.needs)
            c1 = time.process_time()
            trace: list[StageRecord] = []
            item = apply_stage(stage, item, attempts, retry_delay_s, trace)
            c2 = time.process_time()
            ids.append(item.clip_id)
            blobs.append(update_item(blob, item, stage.adds, keep))
            if trace:
                trace[-1] = dataclasses.replace(trace[-1], transport_cpu=(c1 - c0) + (time.process_time() - c2))
            before = json.loads(batch.column("trace")[i].as_py())
            traces.append(json.dumps(before + [r.to_dict() for r in trace]))
        return pa.table({"clip_id": pa.array(ids, pa.string()), "work": pa.array(blobs, pa.large_binary()),
                         "trace": pa.array(traces, pa.string())})

    if cached:
        def fn(batch):
            return run(batch, stage_for())

        fn.__name__ = fn.__qualname__ = plan.name
        return fn

    class ActorStage:
        def __init__(self):
            self.stage = build()

        def __call__(self, batch):
            return run(batch, self.stage)

    ActorStage.__name__ = ActorStage.__qualname__ = plan.name
    return ActorStage


def _shared_scenes(items: list[ClipWork]) -> dict:
    """Object-store references to the scenes the driver already built (preflight builds each scenario's), by
    sdg.scenes.scene_key: worker processes fetch them (milliseconds) instead of building their own (seconds each)."""
    import ray

    from sdg.scenes import cached_scene, scene_key

    refs = {}
    for w in items:
        key = scene_key(w.spec.scenario)
        if key not in refs and (scene := cached_scene(w.spec.scenario)) is not None:
            refs[key] = ray.put(scene)
    return refs


def run_ray(pipeline: Pipeline, items: list[ClipWork]) -> Iterator[Done]:
    """Ray Data executor: streaming, one operator per stage with its declared resources."""
    import pyarrow as pa
    import ray
    from ray.data import ActorPoolStrategy, TaskPoolStrategy

    from sdg.transport import decode_item, encode_item

    run_token = uuid.uuid4().hex
    scenes = _shared_scenes(items)
    # every actor pool (simulators, augmenters) is up before the first clip is handed out, so the first clips do
    # not all queue on whichever actor started first; an actor whose setup fails still fails the run at once
    ray.data.DataContext.get_current().wait_for_min_actors_s = ACTOR_START_S
    ds = ray.data.from_arrow([
        pa.table({"clip_id": pa.array([w.clip_id], pa.string()), "work": pa.array([encode_item(w)], pa.large_binary()),
                  "trace": pa.array(["[]"], pa.string())})
        for w in items])
    for plan, keep in zip(pipeline.stages, pipeline.keep_after):
        fp = plan.build().footprint
        common = dict(batch_size=1, batch_format="pyarrow", num_cpus=fp.num_cpus)
        if fp.num_gpus:
            common["num_gpus"] = fp.num_gpus
        if fp.resources:
            common["resources"] = dict(fp.resources)
        if fp.concurrency and not fp.actors:
            common["compute"] = TaskPoolStrategy(size=fp.concurrency)  # at most this many tasks at once
        # a clip whose worker process dies is re-run by Ray at most attempts - 1 times (dead actors are replaced)
        if fp.actors:
            fn = _row_fn(plan, keep, run_token, False, pipeline.attempts, pipeline.retry_delay_s, scenes)
            # two clips in flight per actor: the next one waits on the actor, so it starts the moment the last ends
            # (with one, each clip waited ~0.2 s for Ray Data's dispatch loop), and a clip queues behind a busy
            # actor at most one deep (Ray's default of 4 left simulator and Cosmos actors idle at the run's ends)
            pool = ActorPoolStrategy(size=fp.actors, max_tasks_in_flight_per_actor=2)
            ds = ds.map_batches(fn, compute=pool, max_restarts=-1,
                                max_task_retries=pipeline.attempts - 1, **common)
        else:
            fn = _row_fn(plan, keep, run_token, True, pipeline.attempts, pipeline.retry_delay_s, scenes)
            ds = ds.map_batches(fn, max_retries=pipeline.attempts - 1, **common)
    for row in ds.iter_rows():
        yield Done(decode_item(row["work"], pipeline.outputs),
                   [StageRecord(**r) for r in json.loads(row["trace"])])


__all__ = ["Pipeline", "StagePlan", "build_pipeline", "check_contract", "apply_stage", "run_local", "run_ray",
           "ContractError"]
