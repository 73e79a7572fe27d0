"""Backends of your own: ``backends.simulator`` / ``augmenter`` / ``prompts`` may name a class by import path,
``"package.module:Class"``; it is constructed with the JobConfig and must satisfy the protocol (sdg.simulators,
sdg.augment.base). The module must be importable on every Ray worker (installed, or in the job's working dir)."""
from __future__ import annotations

import importlib


class PluginError(ImportError):
    """A backend import path that cannot be loaded; the message names the config key."""


def is_plugin(name: str) -> bool:
    return ":" in name


def load_plugin(path: str, key: str, cfg):
    """Construct the class at ``path`` (``module:Class``) with ``cfg``."""
    module, _, attr = path.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise PluginError(f"backends.{key}: cannot load {path!r} ({type(e).__name__}: {e}); give an importable "
                          "'package.module:Class'") from None
    return cls(cfg)
