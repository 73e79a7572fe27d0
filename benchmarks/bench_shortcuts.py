"""Answer shortcuts at scale: how far the text-only baselines (majority per template, bag-of-words naive Bayes) and
the blind mark-number policies land from chance when the dataset holds more than the demo's four scenarios.

A text-only model trained on the train split learns the train split's answers; on a handful of held-out scenarios
their answers (7 cars, a near miss) were never the train answers, so the demo's figures scatter around chance, above
and below, by the few distinct questions they count. This runs the built-in path on --scenarios scenarios (default
32, about 5 min on 2 cores; every event kind, several seeds, the corner and the south camera: 320x180, 5 fps, 3 s,
one variant) and reports each kind's gap against chance over the held-out splits, with the number of independent
facts behind it (distinct clip, template, topic, marks named and answer: sdg.som.baselines).

    python benchmarks/bench_shortcuts.py [--scenarios 32]

Last line `baseline_gap: <largest |baseline - chance| over the kinds with >= 20 independent held-out facts and the
blind policies over >= 20 questions>`
(points of accuracy as a fraction: 0.10 is the issue's bound).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from sdg.config import parse_config
from sdg.run import run_job
from sdg.som.baselines import z_score

KINDS = ("collision", "near_miss", "wrong_way", "jaywalking")
MIN_FACTS = 20


def job(n: int) -> dict:
    corner = {"name": "corner", "width": 320, "height": 180, "fov": 90.0, "location": [-13.0, -13.0, 9.5],
              "rotation": [0.0, -26.0, 45.0]}
    south = {"name": "south", "width": 320, "height": 180, "fov": 90.0, "location": [4.0, 38.0, 7.5],
             "rotation": [0.0, -16.0, -90.0]}
    scenarios = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        scenarios.append({"id": f"{kind}-{i:02d}", "scenario": kind, "seed": 11 + i, "duration": 3.0, "fps": 5.0,
                          "vehicles": 8, "pedestrians": 6, "cameras": ["corner" if (i // len(KINDS)) % 2 else "south"]})
    return {"name": "shortcuts", "seed": 7, "cameras": [corner, south], "scenarios": scenarios,
            "augmentation": {"variants": 1, "weather": ["clear", "rain"], "lighting": ["day", "dusk"]},
            "splits": {"train": 0.5, "validation": 0.25, "test": 0.25},
            "resources": {"num_cpus": 2, "simulator_cpus": 0.5, "stage_cpus": 0.25},
            "output": {"exports": ["llava"]}}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenarios", type=int, default=32)
    ap.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="sdg-shortcuts-"))
    t0 = time.time()
    res = run_job(parse_config(job(args.scenarios)), out, executor="local", overwrite=True)
    if not res.ok:
        print(f"run failed: {res.failed}", file=sys.stderr)
        return 1
    report = json.loads((out / "reports" / "qa.json").read_text())
    print(f"{args.scenarios} scenarios in {time.time() - t0:.0f} s; splits {report['splits']}")
    base = report["text_only_baseline"]
    print(f"questions: train {base['train']}, held out {base['held_out']}")
    print(f"{'kind':12} {'n':>6} {'facts':>6} {'chance':>7} {'majority':>9} {'bow':>6} {'lower':>6}   z(bow)")
    gaps = []
    for kind, r in base["by_kind"].items():
        vals = [r[k] for k in ("majority", "bow", "lower_mark") if k in r]
        gap = max(abs(v - r["chance"]) for v in vals)
        lower = f"{r['lower_mark']:6.2f}" if "lower_mark" in r else "     -"
        print(f"{kind:12} {r['n']:6d} {r['n_independent']:6d} {r['chance']:7.2f} {r['majority']:9.2f} "
              f"{r['bow']:6.2f} {lower}   {z_score(r['bow'], r['chance'], r['n_independent']):+.1f}")
        if r["n_independent"] >= MIN_FACTS:
            gaps.append(gap)
    for t, r in report["blind_mark_policies"].items():
        print(f"blind policy {t}: {r['accuracy']:.3f} over {r['n']}")
        if r["n"] >= MIN_FACTS:
            gaps.append(abs(r["accuracy"] - 0.5))
    print(f"baseline_gap: {max(gaps):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
