"""The typed work item that flows between the pipeline's stages, one per clip, and its failure type.

A :class:`ClipWork` starts as a :class:`ClipSpec` alone; each stage reads the fields it declares in ``needs`` and
fills the fields it declares in ``adds`` (sdg.stages.base). A field is ``None`` until its stage has run:

=============  ===========================================================================  ===============
field          what, shape / dtype                                                          added by
=============  ===========================================================================  ===============
spec           :class:`ClipSpec`: ids, the camera, the typed scenario, the frame window      the planner
sensors        :class:`sdg.model.SensorClip`: rgb (T,H,W,3) uint8, depth (T,H,W) float32     simulate
               planar metres, semantic (T,H,W) uint8 CARLA tags, instance (T,H,W) uint32
               actor ids, normals (T,H,W,3) float16 unit (OpenCV camera axes; stored as 8-bit),
               times (T,) float64 s, frame_indices (T,) int64, provenance (the simulator's)
annotations    :class:`sdg.model.ClipAnnotations`: marks {actor id: 1..N}, per frame the      groundtruth
               ObjectAnnotation and EventRecord lists
controls       {name: (T,H,W,3) uint8} control frames of ``augmentation.controls``            groundtruth
flow           (T,H,W,2) float16 forward optical flow in pixels, NaN on the last frame      groundtruth
lights         per frame a (N,7) float32 array: u, v, z, r, g, b, intensity of the lamps     groundtruth
variants       list of :class:`Variant` (look, prompt, T augmented frames as JPEG,          augment
               provenance), one per augmentation variant
rows           pyarrow.Table of the clip's dataset rows (schema sdg.model.ROW_SCHEMA)        postprocess
videos         pyarrow.Table of the clip's video-level rows, one per (clip, variant) with     postprocess
               variant -1 the simulator's video (schema sdg.model.VIDEO_SCHEMA): video Q&A,
               phase captions, event ids, tracks, Set-of-Mark videos
shard          :class:`ShardEntry` of the committed Parquet shard                            write
=============  ===========================================================================  ===============

A stage that raises turns the item into a :class:`ClipFailed` (stage, error class, message, whether a retry may
help); later stages pass it through and the driver records it. Only the executor adapter (sdg.transport) turns
work items into bytes and back.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from sdg.augment.base import Look
from sdg.config import BuiltinScenario, RecordingScenario
from sdg.geometry import Camera
from sdg.model import ClipAnnotations, SensorClip

ScenarioConfig = Union[BuiltinScenario, RecordingScenario]

# every field of ClipWork a stage can add, in pipeline order (spec is always there)
WORK_FIELDS = ("sensors", "annotations", "controls", "flow", "lights", "variants", "rows", "videos", "shard")


class ContractError(Exception):
    """A pipeline whose stages do not fit together (a field needed before any stage adds it, an unknown field, a
    field added twice), or a stage that did not fill a field it declares."""


@dataclass(frozen=True)
class ClipSpec:
    """What to make of one clip: a scenario seen by one camera over one window of frames, with ``variants``
    augmentation variants. Every random choice downstream derives from (``seed``, ``clip_id``)."""

    job: str
    clip_id: str  # stable across runs: "<scenario id>.<camera name>[.f<start>]"
    scenario_id: str
    camera: Camera
    scenario: ScenarioConfig  # the scenario's config model (paths resolved)
    variants: int
    seed: int  # the job seed
    frames: tuple[int, int] | None = None  # [start, stop) scene frame indices; None: the whole scene

    def frame_indices(self, n_scene_frames: int) -> list[int]:
        start, stop = self.frames if self.frames else (0, n_scene_frames)
        return list(range(start, min(stop, n_scene_frames)))

    def to_dict(self) -> dict:
        """JSON-ready, deterministic (the manifest's fingerprints hash it)."""
        return {"job": self.job, "clip_id": self.clip_id, "scenario_id": self.scenario_id,
                "camera": self.camera.as_dict(), "scenario": json.loads(self.scenario.model_dump_json()),
                "variants": self.variants, "seed": self.seed,
                "frames": list(self.frames) if self.frames is not None else None}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "ClipSpec":
        kind = d["scenario"].get("kind", "builtin")
        model = BuiltinScenario if kind == "builtin" else RecordingScenario
        return cls(job=d["job"], clip_id=d["clip_id"], scenario_id=d["scenario_id"],
                   camera=Camera.from_dict(d["camera"]), scenario=model.model_validate(d["scenario"]),
                   variants=int(d["variants"]), seed=int(d["seed"]),
                   frames=tuple(d["frames"]) if d.get("frames") is not None else None)

    @classmethod
    def from_json(cls, s: str) -> "ClipSpec":
        return cls.from_dict(json.loads(s))


@dataclass
class Variant:
    """One augmentation variant of a clip: its look, the prompt that describes it, the augmented frames (T JPEGs at
    ``output.jpeg_quality``, the ``image`` column) and where they came from (augmenter, prompt source, fallbacks)."""

    look: Look
    prompt: str
    frames: list[bytes]
    provenance: dict[str, Any] = field(default_factory=dict)
    # per frame {actor id: survival score} when the augment stage already measured it (sdg.som.survival)
    survival: list[dict[int, float]] | None = None


@dataclass(frozen=True)
class ShardEntry:
    """A clip's published files, as the manifest records them (``shard`` and its size/hash: the frame rows)."""

    clip_id: str
    shard: str  # path relative to the output root
    rows: int
    bytes: int
    sha256: str
    committed_at: float
    files: dict[str, dict] = field(default_factory=dict)  # every file of the clip: {table: {path, rows, bytes, sha256}}
    stats: dict[str, Any] = field(default_factory=dict)  # facts about how the clip was made (e.g. augment retries)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class ClipWork:
    """One clip on its way through the stages (see the module docstring for every field)."""

    spec: ClipSpec
    sensors: SensorClip | None = None
    annotations: ClipAnnotations | None = None
    controls: dict[str, np.ndarray] | None = None
    flow: np.ndarray | None = None
    lights: list[np.ndarray] | None = None
    variants: list[Variant] | None = None
    rows: Any = None  # pyarrow.Table (not imported here: the model layer needs no pyarrow at import)
    videos: Any = None  # pyarrow.Table of sdg.model.VIDEO_SCHEMA
    shard: ShardEntry | None = None

    @property
    def clip_id(self) -> str:
        return self.spec.clip_id

    def present(self) -> set[str]:
        return {"spec"} | {f for f in WORK_FIELDS if getattr(self, f) is not None}

    def only(self, names) -> "ClipWork":
        """A shallow copy holding ``spec`` and ``names`` only (what a stage declared it reads)."""
        keep = set(names)
        return dataclasses.replace(self, **{f: None for f in WORK_FIELDS if f not in keep})

    def updated(self, other: "ClipWork", names) -> "ClipWork":
        """This item with ``names`` taken from ``other``; each of them must be filled."""
        missing = [n for n in names if getattr(other, n) is None]
        if missing:
            raise ContractError(f"declares it adds {missing} but left {'it' if len(missing) == 1 else 'them'} "
                                "empty")
        return dataclasses.replace(self, **{n: getattr(other, n) for n in names})


_TRANSIENT = frozenset({
    "ConnectionError", "TimeoutError", "TransportError", "RayActorError", "ActorDiedError", "ActorUnavailableError",
    "WorkerCrashedError", "ObjectLostError", "OwnerDiedError", "NodeDiedError", "GetTimeoutError",
})


def may_retry(e: BaseException) -> bool:
    """Whether running the same clip again may succeed: an exception says so itself (a ``retryable`` attribute),
    else connection/timeouts and Ray's worker/actor/object losses do; bad input and bugs do not."""
    flag = getattr(e, "retryable", None)
    if flag is not None:
        return bool(flag)
    return any(c.__name__ in _TRANSIENT for c in type(e).__mro__)


@dataclass(frozen=True)
class ClipFailed:
    """A clip that failed in a stage; later stages pass it through, the driver records it (nothing is written)."""

    clip_id: str
    stage: str
    error: str  # the exception's class name
    message: str
    retryable: bool  # whether a retry may help (transient: a server, a connection, a lost worker)
    attempts: int = 1

    @classmethod
    def of(cls, clip_id: str, stage: str, e: BaseException, attempts: int = 1) -> "ClipFailed":
        return cls(clip_id=clip_id, stage=stage, error=type(e).__name__, message=str(e), retryable=may_retry(e),
                   attempts=attempts)

    def __str__(self) -> str:
        return f"{self.stage}: {self.error}: {self.message}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


WorkItem = Union[ClipWork, ClipFailed]
