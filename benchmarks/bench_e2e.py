"""End-to-end cost of an output row against the cost of rendering and annotating a frame.

Runs a 1280x720 job of 2 built-in scenarios (collision, wrong-way) x 2 augmentation variants through the in-process
executor twice, with 2 s and 4 s scenarios at 10 fps, after a small warm-up run (numba kernels compiled and cached,
excluded). The marginal CPU time per output row is (CPU of the 4 s run - CPU of the 2 s run) / (rows of the 4 s run -
rows of the 2 s run): fixed costs (start-up, scene building) cancel. The sensors + ground truth CPU per frame is the
simulate and groundtruth stages' CPU over the frames of the 4 s run. CPU time is the process's (all threads), so
the figures do not depend on what else the machine runs.

    python benchmarks/bench_e2e.py [--width 1280 --height 720] [--exports]

Prints the per-stage CPU split (ms per output row) of the 4 s run and, last, `e2e_ratio: <marginal per row ÷
sensors+GT per frame>`.
"""
from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sdg.config import parse_config  # noqa: E402
from sdg.run import run_job  # noqa: E402


def job(duration: float, width: int, height: int, variants: int = 2) -> dict:
    scenario = {"duration": duration, "fps": 10.0, "vehicles": 10, "pedestrians": 8, "layout": "intersection"}
    return {
        "name": f"bench-e2e-{duration:g}s",
        "seed": 2026,
        "cameras": [{"name": "corner", "width": width, "height": height, "fov": 90.0,
                     "location": [-13.0, -13.0, 9.5], "rotation": [0.0, -26.0, 45.0]}],
        "scenarios": [{"id": "collision", "scenario": "collision", "seed": 1, **scenario},
                      {"id": "wrongway", "scenario": "wrong_way", "seed": 2, **scenario}],
        "augmentation": {"variants": variants},
        "resources": {"num_cpus": 2},
        "output": {"exports": ["coco", "odvg", "llava"]},
    }


def measured(cfg: dict, exports: bool, transport: bool = False):
    with tempfile.TemporaryDirectory() as tmp:
        c0, w0 = time.process_time(), time.perf_counter()
        res = run_job(parse_config(cfg), Path(tmp) / "out", executor="local", exports=exports, transport=transport)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    if not res.ok:
        raise SystemExit(f"bench_e2e: the run failed: {res.failed}")
    return res, cpu, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--exports", action="store_true", help="include the COCO/ODVG/LLaVA exports in the cost")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    measured(job(2.0, 320, 180, variants=1), exports=False)  # warm-up: numba compile + caches
    short = measured(job(2.0, args.width, args.height), args.exports)
    long = measured(job(4.0, args.width, args.height), args.exports)
    n_frames = [2 * round(d * 10.0) for d in (2.0, 4.0)]  # 2 scenarios x duration x 10 fps
    n_rows = [f * 2 for f in n_frames]  # x 2 variants
    (_, cpu_s, wall_s), (res_l, cpu_l, wall_l) = short, long
    marginal_ms = 1000.0 * (cpu_l - cpu_s) / (n_rows[1] - n_rows[0])
    stage_cpu = {}
    for r in res_l.trace:
        stage_cpu[r.stage] = stage_cpu.get(r.stage, 0.0) + r.cpu
    sim_gt_ms = 1000.0 * (stage_cpu.get("simulate", 0.0) + stage_cpu.get("groundtruth", 0.0)) / n_frames[1]
    print(f"job: {args.width}x{args.height}, 2 scenarios x 2 variants, 10 fps; rows {n_rows[0]} (2 s) and "
          f"{n_rows[1]} (4 s)")
    print(f"runs: 2 s {cpu_s:.1f} CPU-s / {wall_s:.1f} s wall; 4 s {cpu_l:.1f} CPU-s / {wall_l:.1f} s wall")
    print("per-stage CPU of the 4 s run, ms per output row:")
    total = sum(stage_cpu.values())
    for name, c in stage_cpu.items():
        print(f"  {name:<12} {1000.0 * c / n_rows[1]:8.1f}   ({100.0 * c / total:4.1f} % of stage CPU)")
    print(f"  {'driver/other':<12} {1000.0 * (cpu_l - total) / n_rows[1]:8.1f}")
    moved, _, _ = measured(job(4.0, args.width, args.height), False, transport=True)
    codec = sum(r.transport_cpu for r in moved.trace)
    work = sum(r.cpu for r in moved.trace)
    print(f"transport between stages (the Ray adapter's codec, measured on the 4 s job): {codec:.2f} CPU-s = "
          f"{100.0 * codec / (codec + work):.1f} % of the clips' CPU")
    print(f"marginal CPU per output row: {marginal_ms:.1f} ms")
    print(f"sensors + ground truth CPU per frame: {sim_gt_ms:.1f} ms")
    print(f"e2e_ratio: {marginal_ms / sim_gt_ms:.2f}")


if __name__ == "__main__":
    main()
