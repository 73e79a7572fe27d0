"""Post-process: for every variant and frame, Set-of-Mark overlay on the augmented frame, survival of marked objects
after augmentation, Q&A from ground truth -> the clip's dataset rows (one Arrow table, sdg.model.ROW_SCHEMA); and per
video (the simulator's and each variant's) the video-level row: video Q&A, WTS phase captions, event ids and the
Set-of-Mark videos (sdg.model.VIDEO_SCHEMA)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from sdg import __version__
from sdg.augment.controls import normals_to_rgb
from sdg.codec import decode_image, encode_array, encode_image
from sdg.groundtruth.facts import lamp_pixel, scenario_has_layout, scenario_junctions
from sdg.model import ROW_SCHEMA, VIDEO_SCHEMA
from sdg.seeds import stable_seed
from sdg.som.formats import shuffle_options
from sdg.som.marks import draw_marks
from sdg.som.qa import balance_yes_no, make_qa
from sdg.som.survival import lamp_colour, lamp_uncovered, survival_scores, with_survival
from sdg.som.video_rows import ClipVideoInput, video_row
from sdg.stages.base import Stage
from sdg.work import ClipWork


def lights_as_shown(objects, frame, camera, tracks, t: int, overlay=None):
    """The frame's objects with each traffic light's `state_visible` kept only where the frame still shows the lit
    lamp's colour at the lamp (sdg.som.survival.lamp_colour): a look may darken or veil it. With `overlay` (the
    frame with the marks drawn, `objects` as this function returned them for `frame`): kept only where the marks
    left the lamp uncovered (sdg.som.survival.lamp_uncovered)."""
    out = []
    for o in objects:
        if o.category == "traffic_light" and o.state_visible:
            tr = tracks.get(o.actor_id)
            px = lamp_pixel(camera, tr, t) if tr is not None else None
            seen = px is not None and (lamp_colour(frame, *px) == str(o.state).lower() if overlay is None else
                                       lamp_uncovered(frame, overlay, *px))
            o = o.model_copy(update={"state_visible": bool(seen)})
        out.append(o)
    return out



def _normals8(normals: np.ndarray) -> np.ndarray:
    """A frame's normals in CARLA's 8-bit encoding (the simulate stage already gives them so)."""
    return normals if normals.dtype == np.uint8 else normals_to_rgb(normals)

class PostprocessStage(Stage):
    name = "postprocess"
    needs = ("sensors", "annotations", "controls", "flow", "variants")
    adds = ("rows", "videos")

    def setup(self) -> None:
        """With ``qa.paraphrase`` and NIM prompts, phase captions are paraphrased by the prompt source's LLM: through
        the `prompt` Serve app when the job uses Serve, else its own client."""
        self.rewrite = None
        if self.cfg.qa.paraphrase and self.cfg.backends.prompts == "nim":
            from sdg.serving.contract import uses_serve

            if uses_serve(self.cfg):
                from sdg.serving.handles import ServePromptSource

                self.rewrite = ServePromptSource().rewrite
            else:
                from sdg.augment.backends import make_prompt_source

                self.rewrite = make_prompt_source(self.cfg).rewrite

    def process(self, work: ClipWork) -> ClipWork:
        if not hasattr(self, "rewrite"):
            self.setup()
        spec, clip, ann = work.spec, work.sensors, work.annotations
        camera = spec.camera
        q = self.cfg.output.jpeg_quality
        split = self.cfg.split_of().get(spec.scenario_id, "train")
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
                    "normals": encode_image(_normals8(clip.normals[t]), "png"),
                    "edge_image": encode_image(edge[t], "png") if edge is not None else b"",
                    "flow": encode_array(work.flow[t]),
                }
            )
        vin = ClipVideoInput(job=spec.job, scenario_id=spec.scenario_id, camera=camera, clip_id=spec.clip_id,
                             split=split, seed=spec.seed, times=clip.times, frame_indices=clip.frame_indices,
                             annotations=ann, instance=clip.instance, junctions=scenario_junctions(spec.scenario),
                             road_known=scenario_has_layout(spec.scenario),
                             per_template=self.cfg.qa.video_questions_per_template,
                             event_videos=self.cfg.qa.event_videos, rewrite=self.rewrite)
        T = len(clip.times)
        sim_objects = [lights_as_shown(ann.objects[t], clip.rgb[t], camera, ann.tracks, t) for t in range(T)]
        videos = [video_row(vin, -1, list(clip.rgb), sim_objects, None,
                            provenance={"sdg": __version__, **clip.provenance})]
        rows = []
        for v, var in enumerate(work.variants):
            provenance = {"sdg": __version__, **clip.provenance, **var.provenance}
            frames_objects, frames_qa, frames_som, augmented = [], [], [], []
            for t in range(T):
                objects, events = ann.objects[t], ann.events[t]
                aug = decode_image(var.frames[t])
                scores = var.survival[t] if var.survival is not None else \
                    survival_scores(clip.rgb[t], aug, objects, clip.instance[t])
                objects = lights_as_shown(with_survival(objects, scores), aug, camera, ann.tracks, t)
                som = draw_marks(aug, objects, instance=clip.instance[t])
                # a colour question is shown with the marks drawn: the lamp must still show through them
                objects = lights_as_shown(objects, aug, camera, ann.tracks, t, overlay=som)
                frames_som.append(som)
                augmented.append(aug)
                frames_qa.append(make_qa(objects, events, seed=spec.seed, frame_key=f"{spec.clip_id}/v{v}/f{t}",
                                         width=camera.width, height=camera.height,
                                         max_per_kind=self.cfg.qa.frame_questions_per_kind))
                frames_objects.append((objects, events))
            frames_qa = balance_yes_no(frames_qa, seed=stable_seed(spec.seed, spec.clip_id, v))
            flat = shuffle_options([x for f in frames_qa for x in f], seed=(spec.seed, spec.clip_id, v))
            by_id = {x.id: x for x in flat}
            frames_qa = [[by_id[x.id] for x in f] for f in frames_qa]
            look = var.look.to_json()
            videos.append(video_row(vin, v, augmented, [o for o, _ in frames_objects], json.loads(look),
                                    som_frames=frames_som, provenance=provenance))
            provenance = json.dumps(provenance, sort_keys=True)
            for t in range(T):
                objects, events = frames_objects[t]
                rows.append(
                    {
                        "job": spec.job,
                        "scenario_id": spec.scenario_id,
                        "camera": camera.name,
                        "clip_id": spec.clip_id,
                        "split": split,
                        "variant": v,
                        "frame_index": int(clip.frame_indices[t]),
                        "timestamp": float(clip.times[t]),
                        "width": camera.width,
                        "height": camera.height,
                        "image": var.frames[t],
                        # 4:4:4: the marks' colours stay off the lamps whose colour is asked about
                        "som_image": encode_image(frames_som[t], "jpeg", q, full_chroma=True),
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
        work.videos = pa.Table.from_pylist(videos, schema=VIDEO_SCHEMA)
        return work
