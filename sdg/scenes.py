"""Scene factory: a clip's scenario config -> Scene, cached per process. Building is deterministic, so any process
may build a scene; but it costs seconds (a 16 s built-in traffic scene: 4.3 CPU-s) against milliseconds to fetch the
pickled scene (36 MB) from Ray's object store, so the Ray adapter shares the scenes the driver built
(:func:`share_scenes`) and worker processes fetch them instead of each building its own."""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

from sdg.config import BuiltinScenario, RecordingScenario
from sdg.scene import Scene

_SHARED: dict[tuple[str, str], Callable[[], Scene]] = {}


def scene_key(scenario: BuiltinScenario | RecordingScenario) -> tuple[str, str]:
    """What identifies a scenario's scene (equal configs, one scene)."""
    return scenario.kind, scenario.model_dump_json()


def share_scenes(loaders: dict[tuple[str, str], Callable[[], Scene]]) -> None:
    """Where this process may fetch scenes another process built (by :func:`scene_key`), instead of building them."""
    _SHARED.update(loaders)


_CACHE: OrderedDict[tuple[str, str], Scene] = OrderedDict()
CACHED = 8  # scenes kept per process (a job's clips come scenario by scenario)


def _build(kind: str, scenario_json: str) -> Scene:
    loader = _SHARED.get((kind, scenario_json))
    if loader is not None:
        return loader()
    if kind == "builtin":
        from sdg.scenario.builtin import build_scene

        return build_scene(BuiltinScenario.model_validate_json(scenario_json))
    from sdg.scenario.replay import scene_from_recording

    return scene_from_recording(RecordingScenario.model_validate_json(scenario_json))


def scene_for(scenario: BuiltinScenario | RecordingScenario) -> Scene:
    """The scene of a scenario config (the pydantic model; equal configs share one cached scene)."""
    key = scene_key(scenario)
    scene = _CACHE.pop(key, None)
    if scene is None:
        scene = _build(*key)
    _CACHE[key] = scene
    while len(_CACHE) > CACHED:
        _CACHE.popitem(last=False)
    return scene


def cached_scene(scenario: BuiltinScenario | RecordingScenario) -> Scene | None:
    """The scene if this process holds it already, else None (never builds)."""
    return _CACHE.get(scene_key(scenario))
