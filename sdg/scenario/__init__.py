"""Scenarios: built-in road layouts and scenario generators, the public camera YAML / scenario JSON formats, and
the replay of CARLA recordings. Names are imported lazily (the generator pulls in the simulation)."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "build_scene": "sdg.scenario.builtin",
    "SCENARIO_KINDS": "sdg.scenario.builtin",
    "DEFAULT_CAMERA": "sdg.scenario.builtin",
    "build_layout": "sdg.scenario.layout",
    "layout_for_map": "sdg.scenario.layout",
    "Layout": "sdg.scenario.layout_model",
    "LAYOUTS": "sdg.scenario.layout",
    "load_camera_yaml": "sdg.scenario.camera_yaml",
    "camera_from_config": "sdg.scenario.camera_yaml",
    "CameraYamlError": "sdg.scenario.camera_yaml",
    "load_scenario_json": "sdg.scenario.scenario_json",
    "ScenarioWindow": "sdg.scenario.scenario_json",
    "ScenarioJsonError": "sdg.scenario.scenario_json",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sdg.scenario' has no attribute {name!r}")
