"""The Simulator protocol and its factory. The pipeline never branches on backend names beyond this file."""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from sdg.config import JobConfig
from sdg.geometry import Camera
from sdg.model import SensorClip
from sdg.plugins import is_plugin, load_plugin
from sdg.scene import Scene


@runtime_checkable
class Simulator(Protocol):
    name: str

    def simulate(self, scene: Scene, camera: Camera, frame_indices: Sequence[int]) -> SensorClip:
        ...


def make_simulator(cfg: JobConfig) -> Simulator:
    """``backends.simulator``: ``builtin`` (the CPU ray-caster) | ``carla`` | ``"package.module:Class"``."""
    if is_plugin(cfg.backends.simulator):
        return load_plugin(cfg.backends.simulator, "simulator", cfg)
    if cfg.backends.simulator == "builtin":
        from sdg.render import BuiltinSimulator

        return BuiltinSimulator()
    from sdg.carla.backend import make_carla_simulator

    return make_carla_simulator(cfg)
