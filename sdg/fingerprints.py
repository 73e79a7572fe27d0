"""Fingerprints of what determines a clip's rows, so a re-run redoes exactly the clips whose inputs changed.

A clip's inputs are two flat dicts of dotted fields:

- the job-wide part (:func:`config_inputs`): sdg's version, the job seed, the whole ``augmentation`` section (minus
  the Cosmos request fields when the augmenter is not Cosmos), the backends (simulator, augmenter, prompt source,
  the CARLA client version, the NIM models) and ``output.jpeg_quality``;
- the clip's own part (:func:`clip_inputs`): its camera (name, size, fov, pose), its scenario's fields and its frame
  window. Files a scenario reads (recorder log, scenario JSON, camera YAML, OpenDRIVE map) count by content (sha256),
  not by path, so the same files elsewhere (``ray job submit --working-dir`` unpacks them in a new folder each time)
  give the same fingerprint.

Not part of it (they do not change a row): resources, endpoints' URLs, the output location, exports, row group size,
``backends.serve``. The manifest keeps both parts, so :func:`changed_fields` can say which fields differ.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from sdg import __version__
from sdg.config import JobConfig
from sdg.work import ClipSpec

_FILE_FIELDS = ("log", "scenario_json", "camera_yaml", "xodr")


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested dicts -> {"a.b": value}; lists and scalars are values."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


@lru_cache(maxsize=256)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def file_digest(path) -> str:
    """``sha256:<hex>`` of a file's content (cached per path, mtime and size in this process)."""
    st = os.stat(path)
    return _file_digest(str(path), st.st_mtime_ns, st.st_size)


def _carla_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("carla")
    except Exception:  # noqa: BLE001 - not installed: the server check reports it
        return None


def config_inputs(cfg: JobConfig) -> dict:
    """The job-wide inputs of every clip's rows, flattened."""
    b = cfg.backends
    aug = cfg.augmentation.model_dump(mode="json")
    if b.augmenter != "cosmos":
        aug.pop("cosmos", None)
    backends: dict = {"simulator": b.simulator, "augmenter": b.augmenter, "prompts": b.prompts}
    if b.simulator == "carla":
        backends["carla_client"] = _carla_version()
    if b.prompts == "nim":
        backends["vlm_model"] = cfg.endpoints.vlm_model
        backends["llm_model"] = cfg.endpoints.llm_model
    return flatten({"sdg": __version__, "seed": cfg.seed, "augmentation": aug, "backends": backends,
                    "output": {"jpeg_quality": cfg.output.jpeg_quality}})


def clip_inputs(spec: ClipSpec) -> dict:
    """The clip's own inputs, flattened (camera, scenario fields with files by content, frame window)."""
    scenario = json.loads(spec.scenario.model_dump_json())
    for k in ("id", "cameras"):  # ids are the clip id; the scenario's camera list does not change this clip
        scenario.pop(k, None)
    for k in _FILE_FIELDS:
        if scenario.get(k):
            p = Path(scenario[k])
            scenario[k] = file_digest(p) if p.is_file() else f"missing:{p.name}"
    return flatten({"camera": spec.camera.as_dict(), "scenario": scenario,
                    "frames": list(spec.frames) if spec.frames is not None else None})


def config_fingerprint(inputs: dict) -> str:
    return _hash(inputs)[:16]


def clip_fingerprint(config: dict, clip: dict) -> str:
    return _hash({"config": config, "clip": clip})[:24]


def changed_fields(old: dict | None, new: dict) -> list[str]:
    """The dotted fields whose values differ (a field present on one side only counts)."""
    if old is None:
        return []
    return sorted(k for k in set(old) | set(new) if old.get(k, "<absent>") != new.get(k, "<absent>"))


def describe(fields: list[str], limit: int = 4) -> str:
    """"config changed (augmentation.variants, camera.location)", or "config changed" without details."""
    if not fields:
        return "config changed"
    more = f", +{len(fields) - limit} more" if len(fields) > limit else ""
    return f"config changed ({', '.join(fields[:limit])}{more})"
