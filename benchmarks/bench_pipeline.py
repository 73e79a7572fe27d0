"""Does the pipeline keep the bottleneck stage's GPUs busy? N clips through the real pipeline code (the Ray Data
executor, the stages, the Serve `augment` app and the write path) with the simulate and augment backends replaced by
stand-ins that sleep for the production service times, scaled down (benchmarks/standins.py):

    CARLA replay of a 150-frame clip ≈ 9 min  ->  --simulate-s (default 1.8 s, scale 1/300)
    Cosmos-Transfer2.5 on a clip     ≈ 20 min ->  --augment-s  (default 4.0 s, scale 1/300)

K simulator actors and M augment replicas (one per Cosmos server / GPU). The other stages run for real on tiny
frames. Two cases, each with N clips: augment the bottleneck (K=4, M=4: one CARLA GPU per Cosmos GPU) and
simulate the bottleneck (K=2, M=6: augment at 75 % of its capacity, so a clip rarely waits for a replica). Per case
it prints the ideal makespan (the bottleneck stage's total work ÷ its replicas, plus one clip's
pass through the other stages, measured), the measured makespan (first stage start to last clip written; Ray's
start-up of the actor pools and Serve replicas is printed apart), the serial baseline (the workflow we replace: every
stage of every clip one after the other), and, last, `efficiency: <ideal ÷ measured>` (the lower of the two cases).

    python benchmarks/bench_pipeline.py [--clips 64] [--simulate-s 1.8] [--augment-s 4.0]
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).strip(os.pathsep)

from sdg.config import parse_config  # noqa: E402
from sdg.metrics import summarize  # noqa: E402


def job(clips: int, sims: int, replicas: int) -> dict:
    """N clips = one short street scene seen by N cameras along a circle (one scene to build and cache)."""
    cams = [{"name": f"c{i:03d}", "width": 64, "height": 36, "fov": 90.0,
             "location": [-13.0 + 0.05 * i, -13.0, 9.5], "rotation": [0.0, -26.0, 45.0]} for i in range(clips)]
    return {
        "name": "bench-pipeline",
        "seed": 7,
        "cameras": cams,
        "scenarios": [{"id": "street", "scenario": "traffic", "seed": 1, "duration": 0.5, "fps": 4.0,
                       "vehicles": 6, "pedestrians": 4}],
        "augmentation": {"variants": 1, "weather": ["clear"], "lighting": ["day"], "road": ["dry"]},
        "backends": {"simulator": "benchmarks.standins:SleepSimulator",
                     "augmenter": "benchmarks.standins:SleepAugmenter", "prompts": "template", "serve": "always"},
        "resources": {"simulators": sims, "simulator_cpus": 0.1, "stage_cpus": 0.1, "augmenters": replicas,
                      "serve": {"augment": {"replicas": replicas}, "prompt": {"replicas": 1}},
                      # few, long-lived workers for the CPU stages: each keeps its scene and kernels warm
                      "stages": {s: {"concurrency": 2} for s in ("groundtruth", "postprocess", "write")}},
        "output": {"exports": []},
    }


def case(name: str, clips: int, sims: int, replicas: int, sim_s: float, aug_s: float) -> float:
    import ray

    from sdg.run import run_job

    os.environ["SDG_STANDIN_SIMULATE_S"], os.environ["SDG_STANDIN_AUGMENT_S"] = str(sim_s), str(aug_s)
    # logical CPUs: the stand-ins sleep, as GPU stages wait on their GPUs; the CPU stages' work is small
    # task worker processes warmed by the warm-up run stay alive through the timed run (by default Ray kills idle
    # workers beyond num_cpus, and the timed run's new actors push it there): process start-up is not pipeline time
    ray.init(address="local", num_cpus=8, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             _system_config={"num_workers_soft_limit": 64})
    cfg = parse_config(job(clips, sims, replicas))
    with tempfile.TemporaryDirectory() as tmp:
        # warm-up: task workers started, the scene built and the kernels loaded in them (start-up, not pipeline)
        run_job(parse_config(job(min(clips, 4), sims, replicas)), Path(tmp) / "warm", executor="ray", exports=False)
        t0 = time.time()
        res = run_job(cfg, Path(tmp) / "out", executor="ray", exports=False)
        wall = time.time() - t0
    if not res.ok or len(res.committed) != clips:
        raise SystemExit(f"bench_pipeline: {len(res.committed)}/{clips} clips committed: {res.failed}")
    stages = {s.stage: s for s in summarize(res.trace)}
    start = min(r.start for r in res.trace)
    makespan = max(r.end for r in res.trace) - start
    work = {"simulate": (sim_s, sims), "augment": (aug_s, replicas)}
    slow = max(work, key=lambda s: work[s][0] / work[s][1])
    others = sum(s.mean_s for n, s in stages.items() if n != slow)
    ideal = clips * work[slow][0] / work[slow][1] + others
    serial = clips * sum(s.mean_s for s in stages.values())
    print(f"[{name}] N={clips} K={sims} simulator actors ({sim_s:g} s/clip), M={replicas} augment replicas "
          f"({aug_s:g} s/clip): bottleneck {slow}")
    for s in stages.values():
        print(f"    {s.stage:<12} {s.clips:>4} clips  {s.mean_s:6.2f} s/clip  busy {s.busy:4.0%}  max queue "
              f"{s.max_queue}")
    if os.environ.get("SDG_BENCH_TRACE"):
        import json

        Path(os.environ["SDG_BENCH_TRACE"] + f".{name}.json").write_text(json.dumps([r.to_dict() for r in res.trace]))
    mine = [r for r in res.trace if r.stage == slow]
    lead, tail = min(r.start for r in mine) - start, start + makespan - max(r.end for r in mine)
    print(f"    {slow} runs from +{lead:.1f} s to {tail:.1f} s before the end")
    print(f"    ideal {ideal:.1f} s | measured {makespan:.1f} s | start-up {wall - makespan:.1f} s | serial "
          f"baseline {serial:.1f} s ({serial / makespan:.1f}x slower) | efficiency {ideal / makespan:.3f}")
    ray.shutdown()
    return ideal / makespan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=int, default=64)
    ap.add_argument("--simulate-s", type=float, default=1.8)
    ap.add_argument("--augment-s", type=float, default=4.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    eff = [
        case("augment-bound", args.clips, 4, 4, args.simulate_s, args.augment_s),
        case("simulate-bound", args.clips, 2, 6, args.simulate_s, args.augment_s),
    ]
    print(f"efficiency: {min(eff):.3f}")


if __name__ == "__main__":
    main()
