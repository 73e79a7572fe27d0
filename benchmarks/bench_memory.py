"""Memory stays flat as a job grows: the built-in path (Ray executor) on 10 and on 200 clips of small frames, each
in a fresh process and Ray cluster; peak resident memory (RSS) of the driver and of the largest Ray worker process,
sampled every 0.1 s. Streaming means the 200-clip run holds no more than the 10-clip one: never the whole job in the
driver or the object store.

    python benchmarks/bench_memory.py [--small 10] [--large 200]

Prints both runs' peaks and, last, `rss_ratio: <200 ÷ 10>` (the larger of the driver's and the workers' ratios).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def job(clips: int) -> dict:
    return {
        "name": "bench-memory",
        "seed": 3,
        "cameras": [{"name": "cam", "width": 160, "height": 90, "fov": 90.0,
                     "location": [-13.0, -13.0, 9.5], "rotation": [0.0, -26.0, 45.0]}],
        "scenarios": [{"id": "street", "scenario": "traffic", "seed": 1, "duration": clips / 2.0, "fps": 4.0,
                       "vehicles": 8, "pedestrians": 6}],
        "clip_frames": 2,
        "augmentation": {"variants": 2},
        "resources": {"num_cpus": 2, "simulator_cpus": 0.5, "stage_cpus": 0.25},
        "output": {"exports": []},
    }


def child(clips: int) -> None:
    """One measured run (in its own process): prints a JSON line of the peaks."""
    import psutil

    sys.path.insert(0, str(REPO))
    from sdg.config import parse_config
    from sdg.run import run_job

    peaks: dict[int, int] = {}
    stop = threading.Event()

    def sample():
        me = os.getpid()
        while not stop.is_set():
            for p in psutil.process_iter(["pid", "cmdline"]):
                try:
                    cmd = " ".join(p.info["cmdline"] or [])
                    if p.info["pid"] != me and ("ray::" in cmd or "default_worker.py" in cmd):
                        peaks[p.info["pid"]] = max(peaks.get(p.info["pid"], 0), p.memory_info().rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_job(parse_config(job(clips)), Path(tmp) / "out", executor="ray", exports=False)
    stop.set()
    t.join()
    assert res.ok and len(res.committed) == clips, res.failed
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"clips": clips, "driver": driver, "worker": max(peaks.values(), default=0)}))


def run(clips: int) -> dict:
    r = subprocess.run([sys.executable, __file__, "--child", str(clips)], capture_output=True, text=True,
                       cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"bench_memory: the {clips}-clip run failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", type=int, default=10)
    ap.add_argument("--large", type=int, default=200)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    small, large = run(args.small), run(args.large)
    mb = 1 << 20
    for r in (small, large):
        print(f"{r['clips']:>4} clips: driver peak {r['driver'] / mb:7.1f} MB, largest worker peak "
              f"{r['worker'] / mb:7.1f} MB")
    ratios = {k: large[k] / small[k] for k in ("driver", "worker")}
    print(f"ratios {args.large}/{args.small}: driver {ratios['driver']:.3f}, worker {ratios['worker']:.3f}")
    print(f"rss_ratio: {max(ratios.values()):.3f}")


if __name__ == "__main__":
    main()
