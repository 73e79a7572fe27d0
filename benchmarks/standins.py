"""Stand-in backends for bench_pipeline.py: they take the production service times, scaled down, by sleeping (no
CPU burnt), and hand real data to the next stages. Loaded as plugins (``backends.simulator:
"benchmarks.standins:SleepSimulator"``); their service times come from the environment, which Ray workers inherit:

    SDG_STANDIN_SIMULATE_S   seconds per clip of the simulator (CARLA: ~9 min per 150-frame clip)
    SDG_STANDIN_AUGMENT_S    seconds per variant of the augmenter (Cosmos-Transfer2.5: ~20 min per clip)
"""
from __future__ import annotations

import os
import time

from sdg.render import BuiltinSimulator


def _seconds(name: str) -> float:
    return float(os.environ.get(name, "0"))


class SleepSimulator:
    """Renders the clip with the built-in simulator (use a tiny camera: its cost must be negligible) and sleeps
    until ``SDG_STANDIN_SIMULATE_S`` has passed since the call began."""

    name = "standin-simulator"

    def __init__(self, cfg=None):
        self.inner = BuiltinSimulator(threads=1)
        self.seconds = _seconds("SDG_STANDIN_SIMULATE_S")

    def simulate(self, scene, camera, frame_indices):
        t0 = time.perf_counter()
        clip = self.inner.simulate(scene, camera, frame_indices)
        time.sleep(max(0.0, self.seconds - (time.perf_counter() - t0)))
        clip.provenance = {**clip.provenance, "simulator": self.name}
        return clip


class SleepAugmenter:
    """Returns the simulator's frames unchanged after ``SDG_STANDIN_AUGMENT_S`` seconds."""

    name = "standin-augmenter"

    def __init__(self, cfg=None):
        self.seconds = _seconds("SDG_STANDIN_AUGMENT_S")

    def augment(self, req):
        time.sleep(self.seconds)
        return req.rgb.copy()
