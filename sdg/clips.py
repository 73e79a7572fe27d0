"""Clip planning: a job config -> deterministic clip specs (scenario x camera), the unit of simulate and augment."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from sdg.config import BuiltinScenario, JobConfig, RecordingScenario


@dataclass(frozen=True)
class ClipSpec:
    job: str
    clip_id: str
    scenario_id: str
    camera: dict  # sdg.geometry.Camera.as_dict()
    scenario: dict  # the scenario config, JSON-ready (paths as strings)
    variants: int
    seed: int  # job seed

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, s: str) -> "ClipSpec":
        return cls(**json.loads(s))


def _cameras_for(cfg: JobConfig, scenario) -> list:
    from sdg.scenario.camera_yaml import camera_from_config, load_camera_yaml

    if isinstance(scenario, RecordingScenario) and scenario.camera_yaml is not None:
        return [load_camera_yaml(scenario.camera_yaml, name=scenario.camera_yaml.stem)]
    wanted = scenario.cameras or [c.name for c in cfg.cameras]
    return [camera_from_config(c) for c in cfg.cameras if c.name in wanted]


def plan_clips(cfg: JobConfig) -> list[ClipSpec]:
    """One clip per (scenario, camera). Ids are stable across runs: `<scenario id>.<camera name>`."""
    specs = []
    for s in cfg.scenarios:
        assert isinstance(s, (BuiltinScenario, RecordingScenario))
        for cam in _cameras_for(cfg, s):
            specs.append(
                ClipSpec(
                    job=cfg.name,
                    clip_id=f"{s.id}.{cam.name}",
                    scenario_id=s.id,
                    camera=cam.as_dict(),
                    scenario=json.loads(s.model_dump_json()),
                    variants=cfg.augmentation.variants,
                    seed=cfg.seed,
                )
            )
    return specs
