"""Throughput of the built-in path on 1 vs 2 CPUs with the Ray executor, and Ray vs the in-process executor.

Each measurement runs in its own process pinned to the given cores (`os.sched_setaffinity`, inherited by the Ray
cluster it starts; numba gets as many threads), starts Ray with that many CPUs, runs a warm-up job (worker processes
started, numba kernels loaded), then times a job of --clips clips (640x360, 20 frames, 2 variants each). The in-process
executor runs the same job on 2 cores for comparison.

    python benchmarks/bench_scaling.py [--clips 8]

Prints clips/min of each run, `ray_vs_local: <Ray on 2 ÷ in-process on 2>` and, last, `speedup: <2 CPUs ÷ 1 CPU>`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def job(clips: int, name: str) -> dict:
    return {
        "name": name,
        "seed": 5,
        "cameras": [{"name": "cam", "width": 640, "height": 360, "fov": 90.0,
                     "location": [-13.0, -13.0, 9.5], "rotation": [0.0, -26.0, 45.0]}],
        "scenarios": [{"id": "street", "scenario": "traffic", "seed": 4, "duration": clips * 2.0, "fps": 10.0,
                       "vehicles": 10, "pedestrians": 8}],
        "clip_frames": 20,
        "augmentation": {"variants": 2},
        "resources": {"simulator_cpus": 0.5, "stage_cpus": 0.25},
        "output": {"exports": []},
    }


def child(cpus: int, clips: int, executor: str) -> None:
    os.sched_setaffinity(0, set(range(cpus)))
    sys.path.insert(0, str(REPO))
    from sdg.config import parse_config
    from sdg.run import run_job

    if executor == "ray":
        import ray

        ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        run_job(parse_config(job(2, "warmup")), Path(tmp) / "warm", executor=executor, exports=False)
        t0 = time.perf_counter()
        res = run_job(parse_config(job(clips, "timed")), Path(tmp) / "out", executor=executor, exports=False)
        wall = time.perf_counter() - t0
    assert res.ok and len(res.committed) == clips, res.failed
    print(json.dumps({"cpus": cpus, "executor": executor, "clips": clips, "seconds": wall}))


def run(cpus: int, clips: int, executor: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NUMBA_NUM_THREADS": str(cpus)}
    r = subprocess.run([sys.executable, __file__, "--child", f"{cpus},{clips},{executor}"], capture_output=True,
                       text=True, cwd=REPO, env=env, timeout=7200)
    if r.returncode != 0:
        raise SystemExit(f"bench_scaling: {executor} on {cpus} CPU(s) failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"{executor:>5} on {cpus} CPU(s): {clips} clips in {out['seconds']:.1f} s = "
          f"{60.0 * clips / out['seconds']:.2f} clips/min")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        cpus, clips, executor = args.child.split(",")
        child(int(cpus), int(clips), executor)
        return
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench_scaling needs 2 cores")
    one = run(1, args.clips, "ray")
    two = run(2, args.clips, "ray")
    local = run(2, args.clips, "local")
    print(f"ray_vs_local: {local['seconds'] / two['seconds']:.2f}")
    print(f"speedup: {one['seconds'] / two['seconds']:.2f}")


if __name__ == "__main__":
    main()
