"""Preflight of the services a job config names: one verdict line per service, with what to do when it fails."""
from __future__ import annotations

from dataclasses import dataclass

from sdg.config import JobConfig


@dataclass
class Verdict:
    service: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        tail = f" — {self.fix}" if (self.fix and not self.ok) else ""
        return f"[{mark}] {self.service}: {self.detail}{tail}"


def check_services(cfg: JobConfig) -> list[Verdict]:
    verdicts: list[Verdict] = []
    if cfg.backends.simulator == "carla":
        from sdg.carla.backend import check_carla

        verdicts += check_carla(cfg)
    if cfg.backends.prompts == "nim":
        from sdg.augment.nim import check_nims

        verdicts += check_nims(cfg)
    if cfg.backends.augmenter == "cosmos":
        from sdg.augment.cosmos import check_cosmos

        verdicts += check_cosmos(cfg)
    if not verdicts:
        verdicts.append(Verdict("services", True, "builtin backends only; nothing to reach"))
    return verdicts
