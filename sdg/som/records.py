"""Uniform read access to object and event records, whether they are pydantic models (sdg.model) or the plain dicts
that come back from Arrow (`table.to_pylist()`)."""
from __future__ import annotations

import math
from typing import Any


def get(rec: Any, name: str, default: Any = None) -> Any:
    """rec.name for models, rec[name] for dicts; `default` when absent or None."""
    if isinstance(rec, dict):
        value = rec.get(name, default)
    else:
        value = getattr(rec, name, default)
    return default if value is None else value


def mark_of(obj: Any) -> int:
    """The object's Set-of-Mark number (0 = unmarked)."""
    return int(get(obj, "mark", 0))


def box_of(obj: Any) -> tuple[float, float, float, float] | None:
    """The tight visible box [x1, y1, x2, y2] (continuous pixel convention), or None when nothing is visible or the
    box is empty / not finite."""
    b = get(obj, "bbox_2d")
    if b is None or len(b) != 4:
        return None
    x1, y1, x2, y2 = (float(v) for v in b)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2
