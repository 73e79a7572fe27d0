"""Simulate: clip spec -> the five sensors for every frame of the clip (one simulator per actor)."""
from __future__ import annotations

import json

import numpy as np

from sdg.clips import ClipSpec
from sdg.codec import pack_arrays
from sdg.geometry import Camera
from sdg.scenes import scene_for
from sdg.simulators import make_simulator
from sdg.stages.base import Footprint, Stage


class SimulateStage(Stage):
    name = "simulate"

    @property
    def footprint(self) -> Footprint:
        r = self.cfg.resources
        gpus = self.cfg.endpoints.carla.gpus_per_actor if self.cfg.backends.simulator == "carla" else 0.0
        return Footprint(num_cpus=r.simulator_cpus, num_gpus=gpus, actors=r.simulators)

    def setup(self) -> None:
        self.simulator = make_simulator(self.cfg)

    def process(self, row: dict) -> dict:
        spec = ClipSpec.from_json(row["spec"])
        scene = scene_for(spec.scenario)
        camera = Camera.from_dict(spec.camera)
        clip = self.simulator.simulate(scene, camera, spec.frame_indices(len(scene.times)))
        sensors = pack_arrays(
            {
                "rgb": clip.rgb,
                "depth": clip.depth.astype(np.float32),
                "semantic": clip.semantic.astype(np.uint8),
                "instance": clip.instance.astype(np.uint32),
                "normals": clip.normals.astype(np.float16),
                "times": np.asarray(clip.times, np.float64),
                "frame_indices": np.asarray(clip.frame_indices, np.int64),
            }
        )
        return {**row, "sensors": sensors, "sim_provenance": json.dumps(clip.provenance, sort_keys=True)}
