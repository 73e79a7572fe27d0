"""Simulate: clip spec -> the five sensors for every frame of the clip (one simulator per actor)."""
from __future__ import annotations

from sdg.augment.controls import normals_to_rgb
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
        # normals are only ever written out, as 8-bit PNG in CARLA's encoding: encode them once, here, exactly as
        # the output stores them (a quarter of float32's bytes to move between stages, nothing lost)
        clip.normals = normals_to_rgb(clip.normals)
        work.sensors = clip
        return work
