"""Simulate: clip spec -> the five sensors for every frame of the clip (one simulator per actor)."""
from __future__ import annotations

import numpy as np

from sdg.scenes import scene_for
from sdg.simulators import make_simulator
from sdg.stages.base import Stage
from sdg.work import ClipWork


class SimulateStage(Stage):
    name = "simulate"
    needs = ()
    adds = ("sensors",)

    def setup(self) -> None:
        self.simulator = make_simulator(self.cfg)

    def process(self, work: ClipWork) -> ClipWork:
        spec = work.spec
        scene = scene_for(spec.scenario)
        clip = self.simulator.simulate(scene, spec.camera, spec.frame_indices(len(scene.times)))
        # normals end as 8-bit PNG (CARLA encoding): float16 keeps them well within one level at half the bytes
        clip.normals = clip.normals.astype(np.float16)
        work.sensors = clip
        return work
