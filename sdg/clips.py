"""Clip planning: a job config -> deterministic clip specs (scenario x camera), the unit of simulate and augment."""
from __future__ import annotations

from sdg.config import BuiltinScenario, JobConfig, RecordingScenario
from sdg.work import ClipSpec, ScenarioConfig

__all__ = ["ClipSpec", "plan_clips"]


def _cameras_for(cfg: JobConfig, scenario) -> list:
    from sdg.scenario.camera_yaml import camera_from_config, load_camera_yaml

    if isinstance(scenario, RecordingScenario) and scenario.camera_yaml is not None:
        return [load_camera_yaml(scenario.camera_yaml, name=scenario.camera_yaml.stem)]
    wanted = scenario.cameras or [c.name for c in cfg.cameras]
    return [camera_from_config(c) for c in cfg.cameras if c.name in wanted]


def _windows(cfg: JobConfig, scenario: ScenarioConfig) -> list[tuple[int, int] | None]:
    if not cfg.clip_frames:
        return [None]
    from sdg.scenes import scene_for

    n = len(scene_for(scenario).times)
    step = cfg.clip_frames
    return [(a, min(a + step, n)) for a in range(0, n, step) if min(a + step, n) - a >= 2]


def plan_clips(cfg: JobConfig) -> list[ClipSpec]:
    """One clip per (scenario, camera, window). Ids are stable across runs: `<scenario id>.<camera name>`, plus
    `.f<start>` when `clip_frames` splits a scenario into windows."""
    specs = []
    for s in cfg.scenarios:
        assert isinstance(s, (BuiltinScenario, RecordingScenario))
        windows = _windows(cfg, s)
        for cam in _cameras_for(cfg, s):
            for win in windows:
                suffix = f".f{win[0]:05d}" if win is not None else ""
                specs.append(
                    ClipSpec(
                        job=cfg.name,
                        clip_id=f"{s.id}.{cam.name}{suffix}",
                        scenario_id=s.id,
                        camera=cam,
                        scenario=s,
                        variants=cfg.augmentation.variants,
                        seed=cfg.seed,
                        frames=win,
                    )
                )
    return specs
