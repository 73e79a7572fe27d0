"""Augment: every variant of a clip -> prompt + augmented frames (JPEG), via the configured Augmenter/PromptSource."""
from __future__ import annotations

import json

from sdg.augment.base import AugmentRequest, choose_look
from sdg.clips import ClipSpec
from sdg.codec import encode_image, unpack_arrays
from sdg.stages.base import Footprint, Stage
from sdg.stages.groundtruth import sensor_clip


class AugmentMismatch(RuntimeError):
    pass


def make_augmenter(cfg):
    if cfg.backends.augmenter == "builtin":
        from sdg.augment.builtin import BuiltinAugmenter

        return BuiltinAugmenter()
    from sdg.augment.cosmos import make_augmenter_client

    return make_augmenter_client(cfg)


def encode_control_videos(controls: dict, fps: float) -> dict[str, bytes]:
    """Encode each control clip to mp4 once; every variant's request reuses the bytes."""
    from sdg.augment.video import encode_mp4

    return {name: encode_mp4(frames, fps) for name, frames in controls.items()}


def make_prompts(cfg):
    from sdg.augment.prompts import make_prompt_source

    return make_prompt_source(cfg)


class AugmentStage(Stage):
    name = "augment"

    @property
    def footprint(self) -> Footprint:
        return Footprint(num_cpus=self.cfg.resources.stage_cpus, actors=self.cfg.resources.augmenters)

    def setup(self) -> None:
        from sdg.serving import ServeAugmenter, ServePromptSource, uses_serve

        if uses_serve(self.cfg):
            self.augmenter, self.prompts = ServeAugmenter(), ServePromptSource()
        else:
            self.augmenter, self.prompts = make_augmenter(self.cfg), make_prompts(self.cfg)

    def process(self, row: dict) -> dict:
        spec = ClipSpec.from_json(row["spec"])
        clip = sensor_clip(row["sensors"])
        controls = unpack_arrays(row["controls"])
        lights_blob = unpack_arrays(row["lights"])
        lights = [lights_blob[f"f{i}"] for i in range(len(lights_blob))]
        fps = 1.0 / float(clip.times[1] - clip.times[0]) if len(clip.times) > 1 else 10.0
        aug = self.cfg.augmentation
        control_videos = encode_control_videos(controls, fps) if self.cfg.backends.augmenter != "builtin" else {}
        reqs = []
        for v in range(spec.variants):
            look = choose_look(spec.seed, spec.clip_id, v, aug.weather, aug.lighting, aug.road)
            prompt = self.prompts.prompt(spec.clip_id, clip.rgb, look, fps)
            reqs.append(AugmentRequest(
                clip_id=spec.clip_id, look=look, prompt=prompt, rgb=clip.rgb, depth=clip.depth,
                semantic=clip.semantic, controls=controls, fps=fps, lights=lights, control_videos=control_videos,
                camera=spec.camera,
            ))
        many = getattr(self.augmenter, "augment_many", None)
        outputs = many(reqs) if many else [self.augmenter.augment(r) for r in reqs]
        variants = []
        q = self.cfg.output.jpeg_quality
        for req, frames in zip(reqs, outputs):
            if frames.shape != clip.rgb.shape or frames.dtype != clip.rgb.dtype:
                raise AugmentMismatch(
                    f"clip {spec.clip_id} variant {req.look.variant}: augmenter {self.augmenter.name!r} returned "
                    f"{frames.shape} {frames.dtype}, expected {clip.rgb.shape} {clip.rgb.dtype}; nothing written"
                )
            variants.append({"look": req.look.to_json(), "prompt": req.prompt,
                             "frames": [encode_image(f, "jpeg", q) for f in frames]})
        provenance = {"augmenter": self.augmenter.name, "prompts": self.prompts.name}
        return {**row, "variants": _pack_variants(variants), "aug_provenance": json.dumps(provenance)}


def _pack_variants(variants: list[dict]) -> bytes:
    """Variants -> one blob: a JSON header of looks/prompts/frame sizes, then the JPEG bytes."""
    header, chunks = [], []
    for v in variants:
        header.append({"look": v["look"], "prompt": v["prompt"], "sizes": [len(f) for f in v["frames"]]})
        chunks.extend(v["frames"])
    h = json.dumps(header).encode()
    return len(h).to_bytes(4, "little") + h + b"".join(chunks)


def unpack_variants(blob: bytes) -> list[dict]:
    n = int.from_bytes(blob[:4], "little")
    header = json.loads(blob[4:4 + n])
    pos = 4 + n
    out = []
    for h in header:
        frames = []
        for s in h["sizes"]:
            frames.append(blob[pos:pos + s])
            pos += s
        out.append({"look": h["look"], "prompt": h["prompt"], "frames": frames})
    return out
