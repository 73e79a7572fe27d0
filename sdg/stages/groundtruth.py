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


class GroundTruthStage(Stage):
    name = "groundtruth"

    def process(self, row: dict) -> dict:
        from sdg.augment.controls import make_controls
        from sdg.augment.lights import project_lights
        from sdg.groundtruth import annotate_clip

        spec = ClipSpec.from_json(row["spec"])
        scene = scene_for(spec.scenario)
        camera = Camera.from_dict(spec.camera)
        clip = sensor_clip(row["sensors"])
        ann = annotate_clip(scene, camera, clip)
        annotations = {
            "marks": {str(k): int(v) for k, v in sorted(ann.marks.items())},
            "objects": [[o.model_dump() for o in frame] for frame in ann.objects],
            "events": [[e.model_dump() for e in frame] for frame in ann.events],
        }
        controls = make_controls(clip.rgb, clip.depth, clip.semantic, list(self.cfg.augmentation.controls),
                                 instance=clip.instance)
        lights = project_lights(scene, camera, [int(i) for i in clip.frame_indices])
        return {
            **row,
            "annotations": json.dumps(annotations, sort_keys=True),
            "controls": pack_arrays(controls),
            "lights": pack_arrays({f"f{i}": np.asarray(l, np.float32) for i, l in enumerate(lights)}),
        }
