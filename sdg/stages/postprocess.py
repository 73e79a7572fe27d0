"""Post-process: for every variant and frame, Set-of-Mark overlay on the augmented frame, survival of marked objects
after augmentation, Q&A from ground truth -> the clip's dataset rows (one Arrow table, serialised)."""
from __future__ import annotations

import json

import pyarrow as pa

from sdg import __version__
from sdg.augment.base import stable_seed
from sdg.clips import ClipSpec
from sdg.codec import decode_image, encode_array, encode_image
from sdg.geometry import Camera
from sdg.model import ROW_SCHEMA, EventRecord, ObjectAnnotation
from sdg.stages.augment import unpack_variants
from sdg.stages.base import Stage
from sdg.stages.groundtruth import sensor_clip

def table_to_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def table_from_bytes(blob: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.BufferReader(blob)).read_all()


class PostprocessStage(Stage):
    name = "postprocess"

    def process(self, row: dict) -> dict:
        from sdg.augment.controls import normals_to_rgb
        from sdg.codec import unpack_arrays
        from sdg.som.marks import draw_marks
        from sdg.som.qa import balance_yes_no, make_qa
        from sdg.som.survival import survival_scores, with_survival

        spec = ClipSpec.from_json(row["spec"])
        camera = Camera.from_dict(spec.camera)
        clip = sensor_clip(row["sensors"])
        ann = json.loads(row["annotations"])
        controls = unpack_arrays(row["controls"], names=["edge"])
        flow = unpack_arrays(row["flow"])["flow"]
        variants = unpack_variants(row["variants"])
        q = self.cfg.output.jpeg_quality
        provenance = {
            "sdg": __version__,
            **json.loads(row["sim_provenance"]),
            **json.loads(row["aug_provenance"]),
        }
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
                    "edge_image": encode_image(controls["edge"][t], "png") if "edge" in controls else b"",
                    "flow": encode_array(flow[t]),
                }
            )
        rows = []
        for v, var in enumerate(variants):
            frames_objects, frames_qa, frames_som = [], [], []
            for t in range(len(clip.times)):
                objects = [ObjectAnnotation.model_validate(o) for o in ann["objects"][t]]
                events = [EventRecord.model_validate(e) for e in ann["events"][t]]
                aug = decode_image(var["frames"][t])
                objects = with_survival(objects, survival_scores(clip.rgb[t], aug, objects, clip.instance[t]))
                frames_som.append(encode_image(draw_marks(aug, objects, instance=clip.instance[t]), "jpeg", q))
                frames_qa.append(make_qa(objects, events, seed=spec.seed, frame_key=f"{spec.clip_id}/{v}/{t}",
                                         width=camera.width, height=camera.height))
                frames_objects.append((objects, events))
            frames_qa = balance_yes_no(frames_qa, seed=stable_seed(spec.seed, spec.clip_id, v))
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
                        "image": var["frames"][t],
                        "som_image": frames_som[t],
                        **per_frame[t],
                        "objects": [o.model_dump() for o in objects],
                        "events": [e.model_dump() for e in events],
                        "qa": [x.model_dump() for x in frames_qa[t]],
                        "prompt": var["prompt"],
                        "look": var["look"],
                        "seed": int(spec.seed),
                        "intrinsics": K,
                        "world_to_camera": w2c,
                        "provenance": json.dumps(provenance, sort_keys=True),
                    }
                )
        table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
        return {"spec": row["spec"], "clip_id": spec.clip_id, "table": table_to_bytes(table)}
