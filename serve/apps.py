"""Ray Serve applications of sdg.

- `augment`: the Augmenter deployment. With `augmenter: cosmos` there is one replica per Cosmos-Transfer Gradio
  server (comma-separated `endpoints.cosmos_url`), each with `gpus_per_replica` GPUs reserved; with `builtin` the
  CPU augmenter runs in replicas that autoscale on queue length.
- `prompt`: the PromptSource deployment (NIM VLM caption + NIM LLM template/polish, or the template-only source).

`check_health` reaches the backing server, so Serve restarts a replica whose server went away. The pipeline talks to
them through deployment handles (sdg.serving). `serve deploy configs/serve.yaml` deploys the same apps from the
import paths `serve.apps:augment_app` and `serve.apps:prompt_app` with args {"config": "<job config path>"}.
"""
from __future__ import annotations

import numpy as np
from ray import serve

from sdg.augment.cosmos import cosmos_urls
from sdg.config import JobConfig, load_config


def _cfg(config) -> JobConfig:
    if isinstance(config, JobConfig):
        return config
    if isinstance(config, dict):
        return JobConfig.model_validate(config)
    return load_config(config)


def _rank() -> int:
    try:
        r = serve.get_replica_context().rank
        return int(getattr(r, "rank", r) or 0)
    except Exception:  # noqa: BLE001 - outside Serve (direct construction in tests)
        return 0


@serve.deployment(name="Augmenter", max_ongoing_requests=2, health_check_period_s=30, health_check_timeout_s=60)
class AugmentDeployment:
    def __init__(self, config):
        from sdg.stages.augment import make_augmenter

        cfg = _cfg(config)
        urls = cosmos_urls(cfg)
        if cfg.backends.augmenter == "cosmos" and len(urls) > 1:
            cfg = cfg.model_copy(deep=True)
            cfg.endpoints.cosmos_url = urls[_rank() % len(urls)]
        self.augmenter = make_augmenter(cfg)
        self.name = self.augmenter.name

    def augment(self, req) -> np.ndarray:
        return self.augmenter.augment(req)

    def check_health(self) -> None:
        check = getattr(self.augmenter, "check", None)
        if check is not None:
            v = check()
            if not v.ok:
                raise RuntimeError(v.line())


@serve.deployment(name="Prompter", max_ongoing_requests=8, health_check_period_s=30, health_check_timeout_s=30)
class PromptDeployment:
    def __init__(self, config):
        from sdg.stages.augment import make_prompts

        self.source = make_prompts(_cfg(config))
        self.name = self.source.name

    def prompt(self, clip_id: str, rgb: np.ndarray, look, fps: float) -> str:
        return self.source.prompt(clip_id, rgb, look, fps)

    def check_health(self) -> None:
        for client in (getattr(self.source, "vlm", None), getattr(self.source, "llm", None)):
            if client is not None and not client.health():
                raise RuntimeError(f"NIM at {client.url} is not ready")


def augment_app(args: dict | JobConfig):
    cfg = _cfg(args["config"] if isinstance(args, dict) and "config" in args else args)
    r = cfg.resources
    if cfg.backends.augmenter == "cosmos":
        n = max(1, len(cosmos_urls(cfg)))
        dep = AugmentDeployment.options(num_replicas=n, ray_actor_options={
            "num_cpus": r.stage_cpus, "num_gpus": r.gpus_per_augmenter})
    else:
        dep = AugmentDeployment.options(
            autoscaling_config={"min_replicas": 1, "max_replicas": r.augmenters, "target_ongoing_requests": 1},
            ray_actor_options={"num_cpus": r.stage_cpus, "num_gpus": 0})
    return dep.bind(cfg)


def prompt_app(args: dict | JobConfig):
    cfg = _cfg(args["config"] if isinstance(args, dict) and "config" in args else args)
    return PromptDeployment.options(
        autoscaling_config={"min_replicas": 1, "max_replicas": max(1, cfg.resources.augmenters),
                            "target_ongoing_requests": 4},
        ray_actor_options={"num_cpus": min(0.25, cfg.resources.stage_cpus)}).bind(cfg)
