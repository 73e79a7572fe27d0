"""The Augmenter and PromptSource factories, beside their protocols (sdg.augment.base), as sdg.simulators is for
simulators: the only place that maps a backend name to a class. Stages and Serve apps call these."""
from __future__ import annotations

from sdg.augment.base import Augmenter, PromptSource
from sdg.config import JobConfig
from sdg.plugins import is_plugin, load_plugin


def make_augmenter(cfg: JobConfig) -> Augmenter:
    """``backends.augmenter``: ``builtin`` (the CPU looks) | ``cosmos`` (the Cosmos-Transfer2.5 Gradio client) |
    ``"package.module:Class"``."""
    if is_plugin(cfg.backends.augmenter):
        return load_plugin(cfg.backends.augmenter, "augmenter", cfg)
    if cfg.backends.augmenter == "builtin":
        from sdg.augment.builtin import BuiltinAugmenter

        return BuiltinAugmenter()
    from sdg.augment.cosmos_setup import make_augmenter_client

    return make_augmenter_client(cfg)


def make_prompt_source(cfg: JobConfig) -> PromptSource:
    """``backends.prompts``: ``template`` | ``nim`` (Cosmos-Reason1 caption + Nemotron rewrite) |
    ``"package.module:Class"``."""
    if is_plugin(cfg.backends.prompts):
        return load_plugin(cfg.backends.prompts, "prompts", cfg)
    from sdg.augment.prompts import make_prompt_source as make

    return make(cfg)
