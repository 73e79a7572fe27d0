"""Augmentation contracts shared by the built-in augmenter, the Cosmos-Transfer client and the prompt sources.

A variant of a clip is described by a Look (its variables). The same Look drives the prompt text (Cosmos path) and
the built-in augmenter's rendering, so the two backends are interchangeable per variant. Every choice is a pure
function of (job seed, clip id, variant index).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from sdg.seeds import stable_seed


@dataclass(frozen=True)
class Look:
    weather: str  # "clear" | "fog" | "rain" | "snow"
    lighting: str  # "day" | "night" | "dusk"
    road: str  # "dry" | "wet"
    seed: int  # per-variant seed (also sent to Cosmos)
    variant: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "Look":
        return cls(**json.loads(s))


def choose_look(job_seed: int, clip_id: str, variant: int, weather: Sequence[str], lighting: Sequence[str],
                road: Sequence[str]) -> Look:
    """Deterministic, and different variants of one clip never repeat a (weather, lighting) pair while unused
    pairs remain."""
    combos = [(w, l) for w in weather for l in lighting]
    rng = np.random.default_rng(stable_seed(job_seed, clip_id, "looks"))
    order = rng.permutation(len(combos))
    w, l = combos[int(order[variant % len(combos)])]
    vrng = np.random.default_rng(stable_seed(job_seed, clip_id, variant))
    r = "wet" if (w in ("rain", "snow") and "wet" in road) else road[int(vrng.integers(len(road)))]
    return Look(weather=w, lighting=l, road=r, seed=int(vrng.integers(0, 2**31 - 1)), variant=variant)


@dataclass
class AugmentRequest:
    """One clip variant to augment. Arrays are whole clips, T frames of H x W."""

    clip_id: str
    look: Look
    prompt: str
    rgb: np.ndarray  # (T,H,W,3) uint8, the simulator's frames
    depth: np.ndarray  # (T,H,W) float32 planar metres
    semantic: np.ndarray  # (T,H,W) uint8 CARLA tags
    controls: dict[str, np.ndarray]  # name ("edge" | "depth" | "seg" | "vis") -> (T,H,W,3) uint8 control frames
    fps: float
    lights: list[np.ndarray] = field(default_factory=list)  # per frame (N,7): u, v, z, r, g, b, intensity
    negative_prompt: str = ""
    control_videos: dict[str, bytes] = field(default_factory=dict)  # encoded mp4 per control, made once per clip
    camera: dict | None = None  # sdg.geometry.Camera.as_dict() of the clip (fov for 3D effects)


@runtime_checkable
class Augmenter(Protocol):
    name: str

    def augment(self, req: AugmentRequest) -> np.ndarray:
        """Return the augmented frames, (T,H,W,3) uint8, same T, H, W as req.rgb (checked by the caller)."""
        ...


@dataclass(frozen=True)
class Prompt:
    """A variant's text prompt and how it was made. ``provenance`` (JSON-able) is merged into the rows' provenance:
    e.g. ``{"prompt_origin": "nim", "llm_model": ...}``, or the reason an LLM answer was refused and the template
    prompt used instead."""

    text: str
    provenance: dict = field(default_factory=dict)


@runtime_checkable
class PromptSource(Protocol):
    name: str

    def prompt(self, clip_id: str, rgb: np.ndarray, look: Look, fps: float) -> Prompt:
        """The prompt for one variant of a clip. rgb is the clip's simulator video (T,H,W,3) uint8."""
        ...
