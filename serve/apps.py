"""Ray Serve applications of sdg.

- `augment`: the Augmenter deployment. With `augmenter: cosmos` there is one replica per Cosmos-Transfer Gradio
  server (comma-separated `endpoints.cosmos_url` / $SDG_COSMOS_URL), replica rank i talking to server i, each
  reserving `resources.gpus_per_augmenter` GPUs (0 when the Gradio server owns its GPUs outside Ray); with `builtin`
  the CPU augmenter runs in replicas that autoscale on queue length up to `resources.augmenters`.
- `prompt`: the PromptSource deployment (NIM VLM caption + NIM LLM fill/polish, or the template-only source).

Replicas reserve fractional CPUs (`resources.stage_cpus`; the prompt replica at most 0.25) so both apps fit next to
the Ray Data pipeline on a 2-CPU machine: they mostly wait on remote servers. Replica counts, autoscaling bounds
and what a replica reserves (CPUs, GPUs, custom resources such as `cosmos`) come from the job's resource plan
(`resources.serve.augment` / `resources.serve.prompt`, sdg.plan).

`check_health` reaches the backing server (Cosmos: the Gradio API description must list /generate_video; NIM:
GET /v1/health/ready), so Serve marks the replica unhealthy and restarts it while its server is away. The pipeline
talks to the apps through deployment handles (sdg.serving.handles). `serve deploy configs/serve.yaml` deploys the same
apps from the import paths `serve.apps:augment_app` and `serve.apps:prompt_app` with args
{"config": "<job config path>"}.
"""
from __future__ import annotations

import httpx
import numpy as np
from ray import serve

from sdg.augment.backends import make_augmenter, make_prompt_source
from sdg.augment.base import Prompt
from sdg.augment.cosmos_setup import cosmos_urls
from sdg.augment.http import redact, redact_url
from sdg.config import JobConfig, load_config
from sdg.plan import app_needs
from sdg.serving.contract import (
    AUGMENT_APP,
    AUGMENT_DEPLOYMENT,
    PROMPT_APP,
    PROMPT_DEPLOYMENT,
    fingerprint,
    portable,
    resolve_frames,
)

HEALTH_PERIOD_S, HEALTH_TIMEOUT_S = 10.0, 30.0
# Apps are deleted at the end of a run, when no request is in flight, or when a run is aborted, when finishing a
# request helps nobody (the Gradio server goes on with a started generation anyway): a replica being deleted polls
# for running requests every 0.5 s and is killed after 2 s (Serve's 2 s / 20 s defaults made deletes take seconds,
# and a replica still waiting for resources blocked the delete for the whole timeout)
SHUTDOWN_OPTIONS = {"graceful_shutdown_wait_loop_s": 0.5, "graceful_shutdown_timeout_s": 2.0}


def _cfg(config) -> JobConfig:
    if isinstance(config, JobConfig):
        return config
    if isinstance(config, dict):
        return JobConfig.model_validate(config)
    return load_config(config)


def _rank() -> int:
    """This replica's rank in its deployment (0 outside Serve or on Ray versions without ranks)."""
    try:
        r = serve.get_replica_context().rank
        return int(getattr(r, "rank", r) or 0)
    except Exception:  # noqa: BLE001 - outside Serve (direct construction in tests)
        return 0


def gradio_health(url: str, timeout: float = 10.0, need: tuple[str, ...] = ("/upload_file", "/generate_video")):
    """Raise RuntimeError unless the Gradio server at ``url`` answers its API description (``/gradio_api/info``,
    or ``/info`` on Gradio 4) listing every endpoint of ``need``. One cheap HTTP GET, no queue, no model work."""
    where = redact_url(url)
    last = ""
    for route in ("/gradio_api/info", "/info"):
        try:
            r = httpx.get(url.rstrip("/") + route, timeout=timeout)
        except httpx.HTTPError as e:
            raise RuntimeError(f"Cosmos-Transfer at {where} is unreachable ({type(e).__name__}: {redact(e)[:200]})") \
                from None
        if r.status_code == 404:
            last = f"{route}: HTTP 404"
            continue
        if r.status_code != 200:
            raise RuntimeError(f"Cosmos-Transfer at {where}{route}: HTTP {r.status_code}")
        try:
            named = set(r.json().get("named_endpoints", {}))
        except (ValueError, AttributeError):
            raise RuntimeError(f"Cosmos-Transfer at {where}{route}: not a Gradio API description") from None
        missing = [n for n in need if n not in named]
        if missing:
            raise RuntimeError(f"Cosmos-Transfer at {where}: API lacks {missing}")
        return
    raise RuntimeError(f"Cosmos-Transfer at {where}: no Gradio API description ({last})")


@serve.deployment(name=AUGMENT_DEPLOYMENT, max_ongoing_requests=2, health_check_period_s=HEALTH_PERIOD_S,
                  health_check_timeout_s=HEALTH_TIMEOUT_S, **SHUTDOWN_OPTIONS)
class AugmentDeployment:
    """One augmenter per replica; with Cosmos, the replica of rank i uses server i of the config's urls."""

    def __init__(self, config):
        cfg = _cfg(config)
        self._fingerprint = fingerprint(cfg, AUGMENT_APP)
        urls = cosmos_urls(cfg)
        self.url = None
        if cfg.backends.augmenter == "cosmos" and urls:
            self.url = urls[_rank() % len(urls)]
            if len(urls) > 1:
                cfg = cfg.model_copy(deep=True)
                cfg.endpoints.cosmos_url = self.url
        self.augmenter = make_augmenter(cfg)

    def augment(self, req) -> np.ndarray:
        """One variant (an AugmentRequest whose rgb may be shipped as an ObjectRef, see sdg.serving.handles)."""
        from dataclasses import replace

        try:
            return self.augmenter.augment(replace(req, rgb=resolve_frames(req.rgb)))
        except Exception as e:  # noqa: BLE001 - re-raised in a form Ray can ship to the caller
            raise portable(e) from None

    def backend(self) -> str:
        return self.augmenter.name

    def fingerprint(self) -> str:
        return self._fingerprint

    def check_health(self) -> None:
        if self.url:
            gradio_health(self.url)


@serve.deployment(name=PROMPT_DEPLOYMENT, max_ongoing_requests=8, health_check_period_s=HEALTH_PERIOD_S,
                  health_check_timeout_s=HEALTH_TIMEOUT_S, **SHUTDOWN_OPTIONS)
class PromptDeployment:
    def __init__(self, config):
        cfg = _cfg(config)
        self._fingerprint = fingerprint(cfg, PROMPT_APP)
        self.source = make_prompt_source(cfg)

    def prompt(self, clip_id: str, rgb, look, fps: float) -> Prompt:
        """The variant's :class:`~sdg.augment.base.Prompt` (text + provenance). ``rgb``: the clip (T,H,W,3) uint8,
        or an ObjectRef of it (bare or in a one-element list)."""
        try:
            return self.source.prompt(clip_id, resolve_frames(rgb), look, fps)
        except Exception as e:  # noqa: BLE001 - re-raised in a form Ray can ship to the caller
            raise portable(e) from None

    def rewrite(self, instruction: str) -> str:
        """The prompt source's LLM on a free instruction (the phase captions' paraphrase, sdg.som.captions)."""
        fn = getattr(self.source, "rewrite", None)
        if fn is None:
            raise RuntimeError(f"the {self.source.name!r} prompt source has no LLM to rewrite text with "
                               "(backends.prompts: nim has)")
        try:
            return fn(instruction)
        except Exception as e:  # noqa: BLE001 - re-raised in a form Ray can ship to the caller
            raise portable(e) from None

    def backend(self) -> str:
        return self.source.name

    def fingerprint(self) -> str:
        return self._fingerprint

    def check_health(self) -> None:
        for client in (getattr(self.source, "vlm", None), getattr(self.source, "llm", None)):
            if client is not None and not client.health():
                raise RuntimeError(f"NIM at {redact_url(client.url)} is not ready (GET /v1/health/ready failed)")


def _config_arg(args):
    return _cfg(args["config"] if isinstance(args, dict) and "config" in args else args)


def augment_app(args: dict | JobConfig):
    """The `augment` app of a job config (a JobConfig, or ``{"config": path}`` from a Serve config file); replica
    count or autoscaling bounds and what each replica reserves come from the plan (``resources.serve.augment``)."""
    cfg = _config_arg(args)
    return AugmentDeployment.options(**app_needs(cfg, AUGMENT_APP).deployment_options()).bind(cfg)


def prompt_app(args: dict | JobConfig):
    """The `prompt` app of a job config (a JobConfig, or ``{"config": path}`` from a Serve config file); replicas
    from the plan (``resources.serve.prompt``)."""
    cfg = _config_arg(args)
    return PromptDeployment.options(**app_needs(cfg, PROMPT_APP).deployment_options()).bind(cfg)
