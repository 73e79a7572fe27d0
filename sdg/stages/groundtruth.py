"""Ground truth: sensors + scene -> per-frame objects/events (with stable marks), control frames, projected lights."""
from __future__ import annotations

import json

import numpy as np

from sdg.clips import ClipSpec
from sdg.codec import pack_arrays, unpack_arrays
from sdg.geometry import Camera
from sdg.model import SensorClip
from sdg.scenes import scene_for
from sdg.stages.base import Stage


def sensor_clip(blob: bytes) -> SensorClip:
    a = unpack_arrays(blob)
    return SensorClip(
        rgb=a["rgb"], depth=a["depth"], semantic=a["semantic"], instance=a["instance"],
        normals=a["normals"].astype(np.float32), times=a["times"], frame_indices=a["frame_indices"],
    )


def with_detected_events(scene, scenario: dict):
    """The scene with the events detected from motion added to the scripted/recorded ones (deduplicated). Lane and
    signal based detectors (wrong-way, red-light, jaywalking) run only where the road layout is the scene's own
    (built-in scenarios, or a recording with its OpenDRIVE map)."""
    import dataclasses

    from sdg.groundtruth import detect_events, merge_events

    hooks: dict = {"jaywalking": False}
    layout = None
    if scenario.get("kind", "builtin") == "builtin":
        from sdg.scenario.layout import build_layout

        layout = build_layout(scenario.get("layout", "intersection"), int(scenario.get("seed", 0)))
    elif scenario.get("xodr"):
        from sdg.scenario.opendrive import layout_from_xodr

        layout = layout_from_xodr(scenario["xodr"])
    if layout is not None:
        hooks = {"lane_direction_fn": layout.lane_direction, "stop_lines": layout.stop_lines(), "jaywalking": True}
    detected = detect_events(scene, **hooks)
    return dataclasses.replace(scene, events=merge_events(scene.events, detected))


class GroundTruthStage(Stage):
    name = "groundtruth"

    def process(self, row: dict) -> dict:
        from sdg.augment.controls import make_controls
        from sdg.augment.lights import project_lights
        from sdg.groundtruth import annotate_clip
        from sdg.groundtruth.flow import clip_flow

        spec = ClipSpec.from_json(row["spec"])
        scene = scene_for(spec.scenario)
        camera = Camera.from_dict(spec.camera)
        clip = sensor_clip(row["sensors"])
        scene = with_detected_events(scene, spec.scenario)
        ann = annotate_clip(scene, camera, clip)
        flow = clip_flow(scene, camera, clip.frame_indices, clip.depth, clip.instance)
        annotations = {
            "marks": {str(k): int(v) for k, v in sorted(ann.marks.items())},
            "objects": [[o.model_dump() for o in frame] for frame in ann.objects],
            "events": [[e.model_dump() for e in frame] for frame in ann.events],
        }
        controls = make_controls(clip.rgb, clip.depth, clip.semantic, list(self.cfg.augmentation.controls),
                                 instance=clip.instance,
                                 filter_classes=self.cfg.augmentation.edge_filter_classes)
        lights = project_lights(scene, camera, [int(i) for i in clip.frame_indices])
        return {
            **row,
            "annotations": json.dumps(annotations, sort_keys=True),
            "controls": pack_arrays(controls),
            "flow": pack_arrays({"flow": flow.astype(np.float16)}),
            "lights": pack_arrays({f"f{i}": np.asarray(l, np.float32) for i, l in enumerate(lights)}),
        }
