"""Scene factory: a clip's scenario config -> Scene (cached per process: building is deterministic, so every stage
that needs the scene rebuilds it instead of shipping a large ground raster through the object store)."""
from __future__ import annotations

from functools import lru_cache

from sdg.config import BuiltinScenario, RecordingScenario
from sdg.scene import Scene


@lru_cache(maxsize=8)
def _scene(kind: str, scenario_json: str) -> Scene:
    if kind == "builtin":
        from sdg.scenario.builtin import build_scene

        return build_scene(BuiltinScenario.model_validate_json(scenario_json))
    from sdg.scenario.replay import scene_from_recording

    return scene_from_recording(RecordingScenario.model_validate_json(scenario_json))


def scene_for(scenario: BuiltinScenario | RecordingScenario) -> Scene:
    """The scene of a scenario config (the pydantic model; equal configs share one cached scene)."""
    return _scene(scenario.kind, scenario.model_dump_json())
