"""Preflight of the services a job config names (`sdg check CONFIG`, and the first step of `sdg run` for
non-builtin backends): one verdict line per service, with what to do when it fails.

Services, by backend:
- ``simulator: carla``: every ``endpoints.carla.hosts`` entry answers ``get_server_version`` (matching the client);
- ``prompts: nim``: the VLM and LLM NIMs answer ``GET /v1/health/ready`` and list their model in ``GET /v1/models``;
- ``augmenter: cosmos``: every Cosmos-Transfer2.5 Gradio server's API lists ``/upload_file`` and ``/generate_video``.

The groups are checked concurrently (each check has its own timeout), the lines come out in this fixed order.
Every line goes through :func:`sdg.augment.http.redact`: API keys and tokens from the environment never show.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sdg.config import JobConfig
from sdg.verdict import Verdict

__all__ = ["Verdict", "check_services", "all_ok"]


def _carla(cfg: JobConfig) -> list[Verdict]:
    from sdg.carla.backend import check_carla

    return check_carla(cfg)


def _nim(cfg: JobConfig) -> list[Verdict]:
    from sdg.augment.nim import check_nims

    return check_nims(cfg)


def _cosmos(cfg: JobConfig) -> list[Verdict]:
    from sdg.augment.cosmos_setup import check_cosmos

    return check_cosmos(cfg)


def _groups(cfg: JobConfig) -> list[tuple[str, Callable[[JobConfig], list[Verdict]], str]]:
    """(name, checker, what to do if the checker itself breaks) for each remote backend the config uses."""
    b = cfg.backends
    out = []
    if b.simulator == "carla":
        out.append(("CARLA", _carla, "check endpoints.carla and that the carla package imports"))
    if b.prompts == "nim":
        out.append(("NIM", _nim, "check endpoints.vlm_url / llm_url ($SDG_VLM_URL / $SDG_LLM_URL)"))
    if b.augmenter == "cosmos":
        out.append(("Cosmos-Transfer", _cosmos, "check endpoints.cosmos_url ($SDG_COSMOS_URL)"))
    return out


def _safe(v: Verdict) -> Verdict:
    from sdg.augment.http import redact

    return Verdict(redact(v.service), v.ok, redact(v.detail), redact(v.fix))


def check_services(cfg: JobConfig) -> list[Verdict]:
    """The verdicts of every service ``cfg`` uses (a single ok verdict when it uses builtin backends only)."""
    groups = _groups(cfg)
    if not groups:
        return [Verdict("services", True, "builtin backends only; nothing to reach")]

    def run(group) -> list[Verdict]:
        name, fn, fix = group
        try:
            return fn(cfg)
        except Exception as e:  # noqa: BLE001 - a broken checker is a failed check, not a traceback
            return [Verdict(name, False, f"check failed ({type(e).__name__}: {e})", fix)]

    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="sdg-check") as pool:
        results = list(pool.map(run, groups))
    return [_safe(v) for vs in results for v in vs]


def all_ok(verdicts: list[Verdict]) -> bool:
    return all(v.ok for v in verdicts)
