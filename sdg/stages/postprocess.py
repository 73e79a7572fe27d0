"""Post-process: for every variant and frame, Set-of-Mark overlay on the augmented frame, survival of marked objects
after augmentation, Q&A from ground truth -> the clip's dataset rows (one Arrow table, sdg.model.ROW_SCHEMA)."""
from __future__ import annotations

import json

import pyarrow as pa

from sdg import __version__
from sdg.augment.controls import normals_to_rgb
from sdg.codec import decode_image, encode_array, encode_image
from sdg.model import ROW_SCHEMA
from sdg.seeds import stable_seed
from sdg.som.marks import draw_marks
from sdg.som.qa import balance_yes_no, make_qa
from sdg.som.survival import survival_scores, with_survival
from sdg.stages.base import Stage
from sdg.work import ClipWork


class PostprocessStage(Stage):
    name = "postprocess"
    needs = ("sensors", "annotations", "controls", "flow", "variants")
    adds = ("rows",)

    def process(self, work: ClipWork) -> ClipWork:
        spec, clip, ann = work.spec, work.sensors, work.annotations
        camera = spec.camera
        q = self.cfg.output.jpeg_quality
        edge = work.controls.get("edge")
        K = camera.K.reshape(-1).tolist()
        w2c = camera.world_to_camera.reshape(-1).tolist()
        # per-frame ground truth columns are the same for every variant: encode once
        per_frame = []
        for t in range(len(clip.times)):
            per_frame.append(
                {
                    "rgb_image": encode_image(clip.rgb[t], "jpeg", q),
                    "depth": encode_array(clip.depth[t]),
                    "semantic": encode_image(clip.semantic[t], "png"),
                    "instance": encode_array(clip.instance[t]),
                    "normals": encode_image(normals_to_rgb(clip.normals[t]), "png"),
                    "edge_image": encode_image(edge[t], "png") if edge is not None else b"",
                    "flow": encode_array(work.flow[t]),
                }
            )
        rows = []
        for v, var in enumerate(work.variants):
            provenance = json.dumps({"sdg": __version__, **clip.provenance, **var.provenance}, sort_keys=True)
            frames_objects, frames_qa, frames_som = [], [], []
            for t in range(len(clip.times)):
                objects, events = ann.objects[t], ann.events[t]
                aug = decode_image(var.frames[t])
                objects = with_survival(objects, survival_scores(clip.rgb[t], aug, objects, clip.instance[t]))
                frames_som.append(encode_image(draw_marks(aug, objects, instance=clip.instance[t]), "jpeg", q))
                frames_qa.append(make_qa(objects, events, seed=spec.seed, frame_key=f"{spec.clip_id}/{v}/{t}",
                                         width=camera.width, height=camera.height))
                frames_objects.append((objects, events))
            frames_qa = balance_yes_no(frames_qa, seed=stable_seed(spec.seed, spec.clip_id, v))
            look = var.look.to_json()
            for t in range(len(clip.times)):
                objects, events = frames_objects[t]
                rows.append(
                    {
                        "job": spec.job,
                        "scenario_id": spec.scenario_id,
                        "camera": camera.name,
                        "clip_id": spec.clip_id,
                        "variant": v,
                        "frame_index": int(clip.frame_indices[t]),
                        "timestamp": float(clip.times[t]),
                        "width": camera.width,
                        "height": camera.height,
                        "image": var.frames[t],
                        "som_image": frames_som[t],
                        **per_frame[t],
                        "objects": [o.model_dump() for o in objects],
                        "events": [e.model_dump() for e in events],
                        "qa": [x.model_dump() for x in frames_qa[t]],
                        "prompt": var.prompt,
                        "look": look,
                        "seed": int(spec.seed),
                        "intrinsics": K,
                        "world_to_camera": w2c,
                        "provenance": provenance,
                    }
                )
        work.rows = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
        return work
