"""Scenes: built once per process, and shared through Ray's object store so worker processes fetch the scene the
driver built instead of each building its own."""
from __future__ import annotations

import numpy as np
import pytest

from sdg import scenes
from sdg.config import BuiltinScenario
from sdg.scenes import cached_scene, scene_for, scene_key, share_scenes


def _scenario(seed: int) -> BuiltinScenario:
    return BuiltinScenario(id=f"s{seed}", scenario="traffic", seed=seed, duration=1.0, fps=5.0, vehicles=2,
                           pedestrians=1)


def test_scene_for_builds_once_caches_a_few_and_fetches_shared_scenes(monkeypatch):
    monkeypatch.setattr(scenes, "_CACHE", type(scenes._CACHE)())
    monkeypatch.setattr(scenes, "_SHARED", {})
    a = _scenario(1)
    assert cached_scene(a) is None
    first = scene_for(a)
    assert scene_for(a) is first and cached_scene(a) is first  # built once
    assert scene_for(_scenario(1)) is first  # equal configs, one scene
    for seed in range(2, 2 + scenes.CACHED):
        scene_for(_scenario(seed))
    assert cached_scene(a) is None  # least recently used, evicted
    shared = scene_for(_scenario(2))  # still cached
    b = _scenario(99)
    share_scenes({scene_key(b): lambda: shared})  # another process built it: fetched, never built here
    assert scene_for(b) is shared


@pytest.mark.ray
def test_the_ray_adapter_shares_the_driver_scenes(ray_cluster, monkeypatch):
    import ray

    from sdg.clips import plan_clips
    from sdg.config import parse_config
    from sdg.pipeline import _shared_scenes
    from sdg.work import ClipWork

    monkeypatch.setattr(scenes, "_CACHE", type(scenes._CACHE)())
    cfg = parse_config({"name": "t", "cameras": [{"name": "c", "width": 64, "height": 36, "fov": 90,
                                                 "location": [-13, -13, 9.5], "rotation": [0, -26, 45]}],
                        "scenarios": [{"id": "x", "scenario": "collision", "seed": 3, "duration": 3.0, "fps": 5.0},
                                      {"id": "y", "scenario": "traffic", "seed": 4, "duration": 1.0, "fps": 5.0}]})
    items = [ClipWork(spec=s) for s in plan_clips(cfg)]
    assert _shared_scenes(items) == {}  # nothing built in this process yet: nothing to share
    built = scene_for(items[0].spec.scenario)
    refs = _shared_scenes(items)
    assert list(refs) == [scene_key(items[0].spec.scenario)]  # only what the driver holds

    @ray.remote
    def fetch_in_a_worker(refs, scenario):
        from sdg.scenes import scene_for, share_scenes

        share_scenes({k: (lambda r=r: ray.get(r)) for k, r in refs.items()})
        s = scene_for(scenario)
        return s.times, s.events

    times, events = ray.get(fetch_in_a_worker.remote(refs, items[0].spec.scenario))
    assert np.array_equal(times, built.times) and events == built.events
