"""Splits by scenario (sdg.config.Splits): deterministic, every asked-for split gets a scenario, pins, bad input."""
from __future__ import annotations

from collections import Counter

import pytest

from sdg.config import ConfigError, Splits, parse_config


def _cfg(**over):
    base = {"name": "j", "cameras": [{"name": "c"}], "scenarios": [{"id": f"s{i}"} for i in range(6)]}
    return parse_config({**base, **over})


def test_scenarios_are_dealt_to_splits_by_the_fractions_and_seed():
    cfg = _cfg(splits={"train": 0.5, "validation": 0.25, "test": 0.25})
    a = cfg.split_of()
    assert set(a) == {f"s{i}" for i in range(6)}
    assert Counter(a.values()) == {"train": 3, "validation": 2, "test": 1}
    assert _cfg(splits={"train": 0.5, "validation": 0.25, "test": 0.25}).split_of() == a  # deterministic
    others = {tuple(sorted(_cfg(seed=s, splits={"train": 0.5, "validation": 0.25, "test": 0.25}).split_of().items()))
              for s in range(8)}
    assert len(others) > 1  # the seed shuffles which scenario goes where


def test_every_split_asked_for_gets_a_scenario_while_there_are_enough():
    sp = Splits()  # 0.8 / 0.1 / 0.1
    assert Counter(sp.assign_all(["a", "b", "c"], 0).values()) == {"train": 1, "validation": 1, "test": 1}
    assert Counter(sp.assign_all(["a", "b"], 0).values())["train"] == 1
    assert set(Splits(train=1.0, validation=0.0, test=0.0).assign_all(["a", "b", "c"], 0).values()) == {"train"}


def test_pinned_scenarios_keep_their_split():
    cfg = _cfg(splits={"assign": {"s0": "test", "s1": "test"}})
    a = cfg.split_of()
    assert a["s0"] == a["s1"] == "test"


def test_bad_splits_name_the_field():
    with pytest.raises(ConfigError, match="splits"):
        _cfg(splits={"train": 0.5, "validation": 0.1, "test": 0.1})
    with pytest.raises(ConfigError, match="splits.assign: unknown scenario ids"):
        _cfg(splits={"assign": {"nope": "test"}})
    with pytest.raises(ConfigError, match="splits.assign"):
        _cfg(splits={"assign": {"s0": "dev"}})
