"""Benchmark of the built-in CPU simulator (sdg.render): frames/s for all five sensors.

Builds its own street scene with >= 40 actors in view (cars, vans, trucks, a bus, two-wheelers, pedestrians, a
traffic light and signs, plus buildings, trees and lamps), warms the numba kernels up first (JIT compile time is
excluded), then times full renders at 1920x1080 and 1280x720, and the ground truth of an 8-frame clip of them
(sdg.groundtruth.annotate_clip + clip_flow, also warmed up; repeated to cover --frames frames). Also compares the
geometry pass (depth, semantic, instance, normals) of the numba kernel with the pure-numpy reference implementation
of the same algorithm.

Wall-clock figures depend on what else runs on the machine; the CPU-seconds per frame (all threads) do not, and
"fps on idle cores" = cores / CPU-seconds per frame is what the kernel would do with the machine to itself.

    python benchmarks/bench_simulate.py [--frames N] [--threads N] [--no-numpy]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def _timed(fn, n: int) -> tuple[np.ndarray, np.ndarray]:
    wall, cpu = [], []
    for i in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn(i)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return np.array(wall), np.array(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=20, help="timed frames per resolution")
    ap.add_argument("--threads", type=int, default=0, help="numba threads (0 = all cores)")
    ap.add_argument("--no-numpy", action="store_true", help="skip the (slow) numpy reference comparison")
    args = ap.parse_args()

    import numba

    from sdg.groundtruth import annotate_clip
    from sdg.groundtruth.flow import clip_flow
    from sdg.render import SceneRenderer, render_clip
    from sdg.render.demo_scene import street_camera, street_scene
    from sdg.render.reference import reference_geometry

    if args.threads:
        numba.set_num_threads(args.threads)
    threads = numba.get_num_threads()
    n = max(args.frames, 2)
    scene = street_scene(n_vehicles=30, n_pedestrians=14, n_frames=n + 1, seed=1)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}  cores: {os.cpu_count()}  numba threads: {threads}  "
          f"python {platform.python_version()}  numba {numba.__version__}  load avg (1 min) before: {load:.2f}")
    for w, h in ((1920, 1080), (1280, 720)):
        r = SceneRenderer(scene, street_camera(w, h))
        t0 = time.perf_counter()
        out = r.render(0)  # warm-up: JIT compile (or cache load) + first frame
        warm = time.perf_counter() - t0
        in_view = len(set(np.unique(out["instance"]).tolist()) - {0})
        wall, cpu = _timed(lambda i: r.render(1 + i, out=out), n)
        print(f"{w}x{h} render (rgb+depth+semantic+instance+normals): {1 / wall.mean():6.2f} frames/s wall "
              f"(mean {wall.mean() * 1e3:6.1f} ms, best {wall.min() * 1e3:6.1f} ms), "
              f"{cpu.mean() * 1e3:6.1f} CPU-ms/frame -> {threads / cpu.mean():5.2f} frames/s on idle cores; "
              f"{in_view} actors in view, {len(r.primitives(0))} primitives, warm-up {warm:.2f} s")
        # ground truth on the rendered frames: boxes, polygons, 3D boxes, visibility (silhouettes), flow
        m = min(n, 8)
        cam = street_camera(w, h)
        clip = render_clip(scene, cam, list(range(m)))
        # warm-up: numba kernels (compile or cache load), and the process's first (T, H, W, 2) flow buffer, whose
        # first-touch page faults cost ~30 ms/frame at 1080p once per process (later buffers reuse freed pages)
        annotate_clip(scene, cam, clip)
        clip_flow(scene, cam, clip.frame_indices, clip.depth, clip.instance)
        reps = max(1, -(-n // m))  # time at least n frames
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(reps):
            ann = annotate_clip(scene, cam, clip)
        t1 = time.perf_counter()
        for _ in range(reps):
            clip_flow(scene, cam, clip.frame_indices, clip.depth, clip.instance)
        t2, c2 = time.perf_counter(), time.process_time()
        frames = reps * m
        ann_wall, flow_wall = (t1 - t0) / frames, (t2 - t1) / frames
        gt_wall, gt_cpu = (t2 - t0) / frames, (c2 - c0) / frames
        objs = sum(len(f) for f in ann.objects) / m
        print(f"{w}x{h} ground truth (2D/3D boxes, polygons, occlusion/truncation, flow): "
              f"{gt_wall * 1e3:6.1f} ms/frame "
              f"wall (annotate {ann_wall * 1e3:.1f}, flow {flow_wall * 1e3:.1f}), {gt_cpu * 1e3:6.1f} CPU-ms/frame, "
              f"{objs:.0f} objects/frame -> sensors + ground truth: {1 / (wall.mean() + gt_wall):6.2f} "
              f"frames/s wall, {threads / (cpu.mean() + gt_cpu):5.2f} frames/s on idle cores")
    if not args.no_numpy:
        w, h = 1280, 720
        r = SceneRenderer(scene, street_camera(w, h))
        rows = r._rows
        geo = {k: np.empty_like(v) for k, v in r.render(0).items()}
        m = max(3, n // 4)
        wall_nb, cpu_nb = _timed(lambda i: r._run(r.primitives(1 + i), 0, 0, w, rows, True, False, geo), m)
        wall_np, cpu_np = _timed(lambda i: reference_geometry(r, 1 + i), m)
        print(f"{w}x{h} geometry pass (depth+semantic+instance), numba: {wall_nb.mean() * 1e3:7.1f} ms wall, "
              f"{cpu_nb.mean() * 1e3:7.1f} CPU-ms | numpy reference (+normals): {wall_np.mean() * 1e3:7.1f} ms wall, "
              f"{cpu_np.mean() * 1e3:7.1f} CPU-ms | speed-up {wall_np.mean() / wall_nb.mean():5.1f}x wall")


if __name__ == "__main__":
    main()
