"""The public scenario JSON: which window of a recording to use and which actors collide.

    {"source_scenario": "...", "start_time": 12.5, "duration": 5.0, "collision_actor_ids": [245, 246]}

plus the keys of the older workflow JSON: camera_config, recorder_filename, output_dir, generate_videos,
limit_distance (m, default 100), area_threshold (px^2, default 100). Times in seconds of the recording, actor ids as
recorded. Unknown keys are kept in `extra` (with a warning); wrong types are errors naming the file and the key.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

log = logging.getLogger(__name__)


class ScenarioJsonError(ValueError):
    """A scenario JSON that cannot be used; the message names the file and the key."""


class ScenarioWindow(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "12.5" is not a number, 1 is not a bool

    source_scenario: str | None = None
    start_time: float | None = Field(None, ge=0.0)  # seconds of the recording
    duration: float | None = Field(None, gt=0.0)  # seconds
    collision_actor_ids: list[int] = []
    # older workflow keys
    camera_config: str | None = None
    recorder_filename: str | None = None
    output_dir: str | None = None
    generate_videos: bool | None = None
    limit_distance: float = Field(100.0, gt=0.0)  # metres: objects farther away are not annotated
    area_threshold: float = Field(100.0, ge=0.0)  # px^2: smaller boxes are dropped
    extra: dict = {}  # unknown keys, kept as found

    @field_validator("collision_actor_ids", mode="before")
    @classmethod
    def _ids(cls, v):
        return [] if v is None else v


def parse_scenario_json(data, source: str = "<scenario json>") -> ScenarioWindow:
    if not isinstance(data, dict):
        raise ScenarioJsonError(f"{source}: a scenario JSON must be an object, got {type(data).__name__}")
    known = set(ScenarioWindow.model_fields) - {"extra"}
    extra = {k: v for k, v in data.items() if k not in known}
    if extra:
        log.warning("%s: unknown keys kept in 'extra': %s", source, sorted(extra))
    fields = {k: v for k, v in data.items() if k in known}
    try:
        return ScenarioWindow.model_validate({**fields, "extra": extra})
    except ValidationError as e:
        lines = [f"{source}: invalid scenario JSON"]
        for err in e.errors():
            key = ".".join(str(x) for x in err["loc"])
            lines.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
        raise ScenarioJsonError("\n".join(lines)) from None


def load_scenario_json(path: str | os.PathLike) -> ScenarioWindow:
    p = Path(path)
    if not p.is_file():
        raise ScenarioJsonError(f"{p}: no such scenario JSON file")
    try:
        data = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ScenarioJsonError(f"{p}: not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    return parse_scenario_json(data, str(p))
