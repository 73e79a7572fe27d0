"""A stage: the fields of the work item it reads (``needs``) and fills (``adds``), a declared resource footprint,
``setup()`` once per worker, and a pure ``process(work) -> work``.

Stages never import each other: what one hands to the next is a typed field of :class:`sdg.work.ClipWork`. The
same stage objects run under the Ray Data executor and in-process (tests, ``--executor local``); both give a stage
a work item holding only ``spec`` and its ``needs``, and take only its ``adds`` back (sdg.pipeline).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from sdg.config import JobConfig
from sdg.work import ClipWork


@dataclass(frozen=True)
class Footprint:
    num_cpus: float = 0.5
    num_gpus: float = 0.0
    actors: int | None = None  # None: stateless, runs as Ray tasks; n: an actor pool of n (setup once per actor)
    resources: tuple[tuple[str, float], ...] = ()  # custom Ray resources per task/actor, e.g. (("carla", 1),)


class Stage:
    name: ClassVar[str] = "stage"
    needs: ClassVar[tuple[str, ...]] = ()  # fields of ClipWork read (besides spec)
    adds: ClassVar[tuple[str, ...]] = ()  # fields of ClipWork filled

    def __init__(self, cfg: JobConfig):
        self.cfg = cfg

    @property
    def footprint(self) -> Footprint:
        return Footprint(num_cpus=self.cfg.resources.stage_cpus)

    def reserved(self) -> Footprint:
        """What the executor reserves per task/actor: ``footprint`` plus the custom Ray resources the job config
        gives this stage (``resources.stage_resources[<stage name>]``, e.g. ``{"carla": 1}``)."""
        fp = self.footprint
        extra = self.cfg.resources.stage_resources.get(self.name) if self.cfg is not None else None
        if not extra:
            return fp
        return replace(fp, resources=tuple(sorted({**dict(fp.resources), **extra}.items())))

    def setup(self) -> None:
        """Expensive, once per worker (connect to servers, load models, warm up JIT)."""

    def process(self, work: ClipWork) -> ClipWork:
        raise NotImplementedError
