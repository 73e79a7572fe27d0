"""Scene factory: a clip's scenario config -> Scene (cached per process: building is deterministic, so every stage
that needs the scene rebuilds it instead of shipping a large ground raster through the object store)."""
from __future__ import annotations

import json
from functools import lru_cache

from sdg.config import BuiltinScenario, RecordingScenario
from sdg.scene import Scene


@lru_cache(maxsize=8)
def _scene_from_json(scenario_json: str) -> Scene:
    data = json.loads(scenario_json)
    if data.get("kind", "builtin") == "builtin":
        from sdg.scenario.builtin import build_scene

        return build_scene(BuiltinScenario.model_validate(data))
    from sdg.scenario.replay import scene_from_recording

    return scene_from_recording(RecordingScenario.model_validate(data))


def scene_for(scenario: dict) -> Scene:
    return _scene_from_json(json.dumps(scenario, sort_keys=True))
