"""Ground truth: sensors + scene -> per-frame objects/events (with stable marks), control frames, optical flow,
projected lights."""
from __future__ import annotations

import dataclasses

import numpy as np

from sdg.augment.controls import make_controls
from sdg.augment.lights import project_lights
from sdg.config import BuiltinScenario
from sdg.groundtruth import annotate_clip, detect_events, merge_events
from sdg.groundtruth.flow import clip_flow
from sdg.scene import Scene
from sdg.scenes import scene_for
from sdg.stages.base import Stage
from sdg.work import ClipWork, ScenarioConfig


def scene_layout(scenario: ScenarioConfig):
    """The road layout of a scenario where it is the scene's own (a built-in layout, or a recording's OpenDRIVE
    map), else None."""
    if isinstance(scenario, BuiltinScenario):
        from sdg.scenario.layout import build_layout

        return build_layout(scenario.layout, scenario.seed)
    if scenario.xodr is not None:
        from sdg.scenario.opendrive import layout_from_xodr

        return layout_from_xodr(scenario.xodr)
    return None


def with_detected_events(scene: Scene, scenario: ScenarioConfig) -> Scene:
    """The scene with the events detected from motion added to the scripted/recorded ones (deduplicated). Lane and
    signal based detectors (wrong-way, red-light, jaywalking) run only where the road layout is the scene's own."""
    layout = scene_layout(scenario)
    hooks: dict = {"jaywalking": False}
    if layout is not None:
        hooks = {"lane_direction_fn": layout.lane_direction, "stop_lines": layout.stop_lines(), "jaywalking": True}
    detected = detect_events(scene, **hooks)
    return dataclasses.replace(scene, events=merge_events(scene.events, detected))


class GroundTruthStage(Stage):
    name = "groundtruth"
    needs = ("sensors",)
    adds = ("annotations", "controls", "flow", "lights")

    def control_names(self) -> list[str]:
        """The control clips to make: the edge control always (the dataset's ``edge_image`` column), and the
        configured ``augmentation.controls`` when the augmenter reads controls (every backend but the built-in
        looks, which work from rgb, depth and semantic)."""
        names = ["edge"]
        if self.cfg.backends.augmenter != "builtin":
            names += [c for c in self.cfg.augmentation.controls if c != "edge"]
        return names

    def process(self, work: ClipWork) -> ClipWork:
        spec, clip = work.spec, work.sensors
        scene = with_detected_events(scene_for(spec.scenario), spec.scenario)
        work.annotations = annotate_clip(scene, spec.camera, clip)
        work.flow = clip_flow(scene, spec.camera, clip.frame_indices, clip.depth, clip.instance).astype(np.float16)
        aug = self.cfg.augmentation
        work.controls = make_controls(clip.rgb, clip.depth, clip.semantic, self.control_names(),
                                      instance=clip.instance, filter_classes=aug.edge_filter_classes)
        work.lights = project_lights(scene, spec.camera, [int(i) for i in clip.frame_indices])
        return work
