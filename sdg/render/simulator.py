"""The built-in CPU backend of the Simulator protocol: renders a Scene's frames with sdg.render."""
from __future__ import annotations

from typing import Sequence

from sdg.geometry import Camera
from sdg.model import SensorClip
from sdg.render.renderer import render_clip
from sdg.scene import Scene


class BuiltinSimulator:
    """Simulator backend "builtin": no server, no GPU; exact sensors from the CPU ray-caster.

    threads: numba threads for this simulator's renders (None = numba's default, all cores). Set it to the CPUs a
    Ray actor reserved, so that several simulator actors on one machine do not oversubscribe the cores."""

    name = "builtin"

    def __init__(self, threads: int | None = None):
        if threads is not None and int(threads) < 1:
            raise ValueError(f"BuiltinSimulator threads must be >= 1 (or None for all cores), got {threads}")
        self.threads = None if threads is None else int(threads)

    def simulate(self, scene: Scene, camera: Camera, frame_indices: Sequence[int]) -> SensorClip:
        """The five sensors for frame_indices (indices into scene.times); provenance names this backend."""
        if self.threads is None:
            return render_clip(scene, camera, frame_indices)
        import numba

        previous = numba.get_num_threads()
        numba.set_num_threads(min(self.threads, numba.config.NUMBA_NUM_THREADS))
        try:
            return render_clip(scene, camera, frame_indices)
        finally:
            numba.set_num_threads(previous)
