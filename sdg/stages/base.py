"""A stage: the fields of the work item it reads (``needs``) and fills (``adds``), a declared resource footprint,
``setup()`` once per worker, and a pure ``process(work) -> work``.

Stages never import each other: what one hands to the next is a typed field of :class:`sdg.work.ClipWork`. The
same stage objects run under the Ray Data executor and in-process (tests, ``--executor local``); both give a stage
a work item holding only ``spec`` and its ``needs``, and take only its ``adds`` back (sdg.pipeline).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from sdg.config import JobConfig
from sdg.plan import StageNeeds, stage_needs
from sdg.work import ClipWork


@dataclass(frozen=True)
class Footprint:
    """What one task/actor of a stage reserves and how many run (from the job's resource plan, sdg.plan)."""

    num_cpus: float = 0.5
    num_gpus: float = 0.0
    actors: int | None = None  # None: stateless, runs as Ray tasks; n: an actor pool of n (setup once per actor)
    resources: tuple[tuple[str, float], ...] = ()  # custom Ray resources per task/actor, e.g. (("carla", 1),)
    concurrency: int | None = None  # task stages: the most tasks at once (None: as many as Ray Data runs)

    @classmethod
    def of(cls, needs: StageNeeds) -> Footprint:
        return cls(num_cpus=needs.unit.cpus, num_gpus=needs.unit.gpus, actors=needs.actors,
                   resources=needs.unit.resources, concurrency=needs.concurrency)


class Stage:
    name: ClassVar[str] = "stage"
    needs: ClassVar[tuple[str, ...]] = ()  # fields of ClipWork read (besides spec)
    adds: ClassVar[tuple[str, ...]] = ()  # fields of ClipWork filled

    def __init__(self, cfg: JobConfig):
        self.cfg = cfg

    @property
    def footprint(self) -> Footprint:
        return Footprint.of(stage_needs(self.cfg, self.name))

    def setup(self) -> None:
        """Expensive, once per worker (connect to servers, load models, warm up JIT)."""

    def process(self, work: ClipWork) -> ClipWork:
        raise NotImplementedError
