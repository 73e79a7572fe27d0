"""A stage: a declared resource footprint, `setup()` once per worker, and a pure `process(row) -> row(s)`.

Rows are plain dicts of str / bytes / numbers (Arrow-friendly), one per clip. The same stage objects run under
the Ray Data executor (sdg.pipeline) and under the in-process executor used by tests and `--executor local`.
"""
from __future__ import annotations

from dataclasses import dataclass

from sdg.config import JobConfig


@dataclass(frozen=True)
class Footprint:
    num_cpus: float = 0.5
    num_gpus: float = 0.0
    actors: int | None = None  # None: stateless, runs as Ray tasks; n: an actor pool of n (setup once per actor)


class Stage:
    name: str = "stage"

    def __init__(self, cfg: JobConfig):
        self.cfg = cfg

    @property
    def footprint(self) -> Footprint:
        return Footprint(num_cpus=self.cfg.resources.stage_cpus)

    def setup(self) -> None:
        """Expensive, once per worker (connect to servers, load models, warm up JIT)."""

    def process(self, row: dict) -> dict:
        raise NotImplementedError
