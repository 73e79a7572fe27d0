"""One service's preflight result (shared by `sdg check` and every backend's own check; a leaf module)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Verdict:
    """One service's preflight result. ``fix`` says what to do and is shown only when ``ok`` is false."""

    service: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        """``[ok  ] service: detail`` or ``[FAIL] service: detail — fix``."""
        mark = "ok  " if self.ok else "FAIL"
        tail = f" — {self.fix}" if (self.fix and not self.ok) else ""
        return f"[{mark}] {self.service}: {self.detail}{tail}"
