"""Benchmark of the built-in augmenter's looks (sdg.augment.looks.render_look): ms per frame for every look.

Builds its input with the project's own simulator: the built-in "traffic" scenario on the intersection layout
(sdg.scenario.builtin, fixed seed), seen by the default corner camera at --width x --height, --frames frames
rendered by sdg.render, with the scene's street lamps and vehicle lamps projected by sdg.augment.lights. Then
renders every look the augmenter can produce (weather x lighting x road, sensor noise on, as in production) on the
whole clip and prints wall-clock and CPU ms per frame for each (per-clip setup included, as render_look does it).
Numba kernels are compiled (or loaded from cache) on a tiny clip first; that time is excluded.

By default OpenCV and numba run single-threaded (--threads 1): the pipeline runs one clip per Ray CPU, so the
single-thread cost is what matters. The headline figure is CPU ms per frame (process time), which other work on a
shared machine disturbs far less than the wall clock; on an idle machine the two agree (one thread).

The last lines are ``looks_ms_per_frame: <mean CPU ms/frame over the looks>`` and ``looks_speedup: <before / now>``,
"before" being BEFORE_CPU_MS_PER_FRAME, measured with this script on the code before the looks were split and sped
up (issue 8; commit 4d48e48, same machine). Without a comparable "before" (other size, subset, threads) the last
line is looks_ms_per_frame.

    python benchmarks/bench_looks.py [--width 1280] [--height 720] [--frames 10] [--threads 1] [--looks fog/day/dry,..]
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import numpy as np

# Mean CPU ms/frame over all 24 looks at 1280x720, 10 frames, 1 thread, on the code before issue 8 (commit 4d48e48:
# sdg/augment/looks.py in one module), on the 2-core development machine.
BEFORE_CPU_MS_PER_FRAME: float | None = 292.6  # two runs: 292.6 and 318.3 (the lower kept)
BEFORE_SIZE = (1280, 720, 10)


def make_clip(width: int, height: int, frames: int):
    """(rgb, depth, semantic, lights, fov) of the fixed synthetic clip: built-in traffic scenario, corner camera."""
    from sdg.augment.lights import project_lights
    from sdg.config import BuiltinScenario
    from sdg.geometry import Camera
    from sdg.render.renderer import render_clip
    from sdg.scenario.builtin import DEFAULT_CAMERA, build_scene

    spec = BuiltinScenario(id="bench_looks", scenario="traffic", seed=3, duration=max(frames, 1) / 10.0, fps=10.0,
                           vehicles=10, pedestrians=6)
    scene = build_scene(spec)
    c = DEFAULT_CAMERA
    cam = Camera(c.name, width, height, c.fov, c.location, c.rotation)
    clip = render_clip(scene, cam, range(frames))
    lights = project_lights(scene, cam, range(frames))
    return clip.rgb, clip.depth, clip.semantic, lights, cam.fov


def all_looks() -> list[tuple[str, str, str]]:
    from sdg.augment.looks import LIGHTINGS, ROADS, WEATHERS

    return list(itertools.product(WEATHERS, LIGHTINGS, ROADS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV and numba threads (0 = library defaults)")
    ap.add_argument("--looks", default="", help="comma-separated weather/lighting/road subset (default: all)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    import cv2

    if args.threads:
        cv2.setNumThreads(args.threads)
        try:
            import numba

            numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
        except ImportError:  # pragma: no cover
            pass

    from sdg.augment.base import Look
    from sdg.augment.looks import render_look

    looks = all_looks() if not args.looks else [tuple(s.split("/")) for s in args.looks.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}  cores: {os.cpu_count()}  threads: {args.threads or 'default'}  "
          f"python {platform.python_version()}  numpy {np.__version__}  cv2 {cv2.__version__}  "
          f"load avg (1 min) before: {load:.2f}")
    t0 = time.perf_counter()
    rgb, depth, sem, lights, fov = make_clip(args.width, args.height, args.frames)
    print(f"input: built-in traffic scenario, {args.frames} frames {args.width}x{args.height}, "
          f"{sum(len(r) for r in lights)} light rows, made in {time.perf_counter() - t0:.1f} s")
    # warm-up: compile / load any numba kernels on a tiny clip (every look, so every code path)
    t0 = time.perf_counter()
    small = make_clip(160, 90, 2)
    for weather, lighting, road in looks:
        render_look(*small[:3], Look(weather, lighting, road, seed=1, variant=0), lights=small[3], fov=small[4])
    print(f"warm-up: {time.perf_counter() - t0:.1f} s")

    n = rgb.shape[0]
    walls, cpus = [], []
    print(f"{'look':<22}{'wall ms/frame':>14}{'cpu ms/frame':>14}")
    for weather, lighting, road in looks:
        look = Look(weather, lighting, road, seed=args.seed, variant=0)
        c0, t0 = time.process_time(), time.perf_counter()
        out = render_look(rgb, depth, sem, look, lights=lights, fov=fov)
        wall, cpu = (time.perf_counter() - t0) * 1e3 / n, (time.process_time() - c0) * 1e3 / n
        assert out.shape == rgb.shape
        walls.append(wall)
        cpus.append(cpu)
        print(f"{weather + '/' + lighting + '/' + road:<22}{wall:>14.1f}{cpu:>14.1f}")
    mean_wall, mean_cpu = float(np.mean(walls)), float(np.mean(cpus))
    print(f"{'mean':<22}{mean_wall:>14.1f}{mean_cpu:>14.1f}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load avg (1 min) after: {load:.2f}")
    comparable = (args.width, args.height, args.frames) == BEFORE_SIZE and args.threads == 1 and not args.looks
    print(f"looks_wall_ms_per_frame: {mean_wall:.1f}")
    if BEFORE_CPU_MS_PER_FRAME is not None and comparable:
        print(f"looks_before_ms_per_frame: {BEFORE_CPU_MS_PER_FRAME:.1f}")
        print(f"looks_ms_per_frame: {mean_cpu:.1f}")
        print(f"looks_speedup: {BEFORE_CPU_MS_PER_FRAME / mean_cpu:.2f}")
    else:
        print(f"looks_ms_per_frame: {mean_cpu:.1f}")


if __name__ == "__main__":
    main()
