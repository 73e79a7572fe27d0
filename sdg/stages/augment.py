"""Augment: every variant of a clip -> prompt + augmented frames (JPEG), via the configured Augmenter/PromptSource
(the backends' own clients, or the Ray Serve apps in front of them)."""
from __future__ import annotations

from sdg.augment.backends import make_augmenter, make_prompt_source
from sdg.augment.base import AugmentRequest, choose_look
from sdg.augment.video import encode_mp4
from sdg.codec import encode_image
from sdg.som.redraw import keep_answerable
from sdg.stages.base import Stage
from sdg.work import ClipWork, Variant


class AugmentMismatch(RuntimeError):
    pass


def encode_control_videos(controls: dict, fps: float) -> dict[str, bytes]:
    """Encode each control clip to mp4 (H.264 4:4:4 lossless) once; every variant's request reuses the bytes."""
    return {name: encode_mp4(frames, fps, profile="control") for name, frames in controls.items()}


class AugmentStage(Stage):
    name = "augment"
    needs = ("sensors", "annotations", "controls", "lights")
    adds = ("variants",)

    def setup(self) -> None:
        from sdg.serving.contract import uses_serve

        if uses_serve(self.cfg):
            from sdg.serving.handles import ServeAugmenter, ServePromptSource

            self.augmenter, self.prompts = ServeAugmenter(), ServePromptSource()
        else:
            self.augmenter, self.prompts = make_augmenter(self.cfg), make_prompt_source(self.cfg)

    def process(self, work: ClipWork) -> ClipWork:
        spec, clip = work.spec, work.sensors
        fps = 1.0 / float(clip.times[1] - clip.times[0]) if len(clip.times) > 1 else 10.0
        aug = self.cfg.augmentation
        control_videos = encode_control_videos(work.controls, fps) if self.cfg.backends.augmenter != "builtin" else {}
        camera = spec.camera.as_dict()
        reqs, prompt_provenance = [], []
        for v in range(spec.variants):
            look = choose_look(spec.seed, spec.clip_id, v, aug.weather, aug.lighting, aug.road)
            prompt = self.prompts.prompt(spec.clip_id, clip.rgb, look, fps)
            prompt_provenance.append(prompt.provenance)
            reqs.append(AugmentRequest(
                clip_id=spec.clip_id, look=look, prompt=prompt.text, rgb=clip.rgb, depth=clip.depth,
                semantic=clip.semantic, controls=work.controls, fps=fps, lights=work.lights,
                control_videos=control_videos, camera=camera,
            ))
        many = getattr(self.augmenter, "augment_many", None)
        retries: list[int | None] = [None] * len(reqs)  # per variant, when the augmenter counts its retries
        if many:
            outputs = many(reqs)
        else:
            outputs = []
            for i, r in enumerate(reqs):
                before = getattr(self.augmenter, "retries_used", None)
                outputs.append(self.augmenter.augment(r))
                if before is not None:
                    retries[i] = self.augmenter.retries_used - before
        q = self.cfg.output.jpeg_quality
        provenance = {"augmenter": self.augmenter.name, "prompts": self.prompts.name}
        variants = []
        for req, frames, prompt_prov, n_retries in zip(reqs, outputs, prompt_provenance, retries):
            self._check(req, frames, clip.rgb)
            redrawn: dict = {}

            def reprompt(look, redrawn=redrawn):
                p = self.prompts.prompt(spec.clip_id, clip.rgb, look, fps)
                redrawn["provenance"] = p.provenance
                return p.text

            # a look that leaves too many marked objects lost is re-drawn milder (sdg.som.redraw)
            req, frames, survival, kept = keep_answerable(
                req, frames, augment=lambda r: self._check(r, self.augmenter.augment(r), clip.rgb),
                prompt=reprompt, objects=work.annotations.objects, instance=clip.instance, weather=aug.weather,
                lighting=aug.lighting, seed=spec.seed, max_lost=aug.max_lost_fraction, attempts=aug.redraw_attempts)
            variants.append(Variant(look=req.look, prompt=req.prompt,
                                    frames=[encode_image(f, "jpeg", q) for f in frames],
                                    provenance={**redrawn.get("provenance", prompt_prov), **provenance, **kept,
                                                **({"retries": n_retries} if n_retries is not None else {})},
                                    survival=survival))
        work.variants = variants
        return work

    def _check(self, req, frames, rgb):
        if frames.shape != rgb.shape or frames.dtype != rgb.dtype:
            raise AugmentMismatch(
                f"clip {req.clip_id} variant {req.look.variant}: augmenter {self.augmenter.name!r} returned "
                f"{frames.shape} {frames.dtype}, expected {rgb.shape} {rgb.dtype}; nothing written"
            )
        return frames
