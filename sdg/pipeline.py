"""The pipeline is the list of stages; an executor runs them (Ray Data streaming, or in-process for tests).

    simulate -> groundtruth -> augment -> postprocess -> write

A clip that fails in any stage becomes an error row that later stages pass through; the driver records it and the
run exits non-zero after the other clips are committed. Nothing of a failed clip is written.
"""
from __future__ import annotations

import functools
import logging
import traceback
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sdg.config import JobConfig
from sdg.stages.augment import AugmentStage
from sdg.stages.base import Stage
from sdg.stages.groundtruth import GroundTruthStage
from sdg.stages.postprocess import PostprocessStage
from sdg.stages.simulate import SimulateStage
from sdg.stages.write import WriteStage

log = logging.getLogger("sdg.pipeline")


def build_stages(cfg: JobConfig, out_dir: Path) -> list[Callable[[], Stage]]:
    """Stage factories (picklable), in order."""
    return [
        functools.partial(SimulateStage, cfg),
        functools.partial(GroundTruthStage, cfg),
        functools.partial(AugmentStage, cfg),
        functools.partial(PostprocessStage, cfg),
        functools.partial(WriteStage, cfg, out_dir),
    ]


def _clip_of(row: dict) -> str:
    if row.get("clip_id"):
        return row["clip_id"]
    import json

    try:
        return json.loads(row["spec"])["clip_id"]
    except Exception:  # noqa: BLE001
        return "?"


def run_stage_on_row(stage: Stage, row: dict) -> dict:
    """Apply one stage to one row, turning an exception into an error row (passed through by later stages)."""
    if row.get("error"):
        return {"clip_id": _clip_of(row), "error": row["error"]}
    try:
        return stage.process(row)
    except Exception as e:  # noqa: BLE001 - reported per clip, the run goes on
        log.debug("stage %s failed:\n%s", stage.name, traceback.format_exc())
        return {"clip_id": _clip_of(row), "error": f"{stage.name}: {type(e).__name__}: {e}"}


# ------------------------------------------------------------------------------------------------ executors
def run_local(factories: list[Callable[[], Stage]], rows: Iterable[dict]) -> Iterator[dict]:
    """In-process executor: the same stages, one clip at a time (tests, debugging, `--executor local`)."""
    stages = [f() for f in factories]
    for s in stages:
        s.setup()
    for row in rows:
        for s in stages:
            row = run_stage_on_row(s, row)
        yield row


_WORKER_STAGES: dict = {}


def _task_fn(name: str, factory: Callable[[], Stage], run_token: str):
    """A Ray task function for a stateless stage. The stage is built once per worker process and run: worker
    processes outlive runs, so the cache is keyed by the run too (a stage of an earlier run has its config)."""

    def fn(batch):
        import pyarrow as pa

        key = (run_token, name)
        stage = _WORKER_STAGES.get(key)
        if stage is None:
            for old in [k for k in _WORKER_STAGES if k[0] != run_token]:
                del _WORKER_STAGES[old]
            stage = factory()
            stage.setup()
            _WORKER_STAGES[key] = stage
        rows = [run_stage_on_row(stage, r) for r in batch.to_pylist()]
        return pa.Table.from_pylist(rows)

    fn.__name__ = fn.__qualname__ = name
    return fn


class _ActorStage:
    def __init__(self, factory: Callable[[], Stage]):
        self.stage = factory()
        self.stage.setup()

    def __call__(self, batch):
        import pyarrow as pa

        return pa.Table.from_pylist([run_stage_on_row(self.stage, r) for r in batch.to_pylist()])


def run_ray(factories: list[Callable[[], Stage]], rows: list[dict]) -> Iterator[dict]:
    """Ray Data executor: streaming, one operator per stage with its declared resources."""
    import ray
    from ray.data import ActorPoolStrategy

    import uuid

    run_token = uuid.uuid4().hex
    ds = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
    for factory in factories:
        stage = factory()
        fp = stage.footprint
        common = dict(batch_size=1, batch_format="pyarrow", num_cpus=fp.num_cpus)
        if fp.num_gpus:
            common["num_gpus"] = fp.num_gpus
        if fp.actors:
            cls = type(f"{stage.name.capitalize()}Stage", (_ActorStage,), {})
            ds = ds.map_batches(cls, fn_constructor_args=(factory,), compute=ActorPoolStrategy(size=fp.actors),
                                **common)
        else:
            ds = ds.map_batches(_task_fn(stage.name, factory, run_token), **common)
    for row in ds.iter_rows():
        yield dict(row)
