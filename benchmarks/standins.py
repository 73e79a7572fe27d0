"""Stand-in backends for bench_pipeline.py: they take the production service times, scaled down, by sleeping (no
CPU burnt), and hand real data to the next stages. Loaded as plugins (``backends.simulator:
"benchmarks.standins:SleepSimulator"``); their service times come from the environment, which Ray workers inherit:

    SDG_STANDIN_SIMULATE_S   seconds per clip of the simulator (CARLA: ~9 min per 150-frame clip)
    SDG_STANDIN_AUGMENT_S    seconds per variant of the augmenter (Cosmos-Transfer2.5: ~20 min per clip)
"""
from __future__ import annotations

import os
import time

import numpy as np

from sdg.geometry import SKY_DEPTH
from sdg.model import SensorClip


def _seconds(name: str) -> float:
    return float(os.environ.get(name, "0"))


class SleepSimulator:
    """Sleeps ``SDG_STANDIN_SIMULATE_S`` and returns an empty street at the camera's size (sky everywhere: no actor
    in view), so the stages after it do real but small work."""

    name = "standin-simulator"

    def __init__(self, cfg=None):
        self.seconds = _seconds("SDG_STANDIN_SIMULATE_S")

    def simulate(self, scene, camera, frame_indices):
        time.sleep(self.seconds)
        t, h, w = len(frame_indices), camera.height, camera.width
        idx = np.asarray(frame_indices, np.int64)
        return SensorClip(
            rgb=np.full((t, h, w, 3), 128, np.uint8), depth=np.full((t, h, w), SKY_DEPTH, np.float32),
            semantic=np.full((t, h, w), 11, np.uint8), instance=np.zeros((t, h, w), np.uint32),
            normals=np.zeros((t, h, w, 3), np.float32), times=np.asarray(scene.times, np.float64)[idx],
            frame_indices=idx, provenance={"simulator": self.name})


class SleepAugmenter:
    """Returns the simulator's frames unchanged after ``SDG_STANDIN_AUGMENT_S`` seconds."""

    name = "standin-augmenter"

    def __init__(self, cfg=None):
        self.seconds = _seconds("SDG_STANDIN_AUGMENT_S")

    def augment(self, req):
        time.sleep(self.seconds)
        return req.rgb.copy()
