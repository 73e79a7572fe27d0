"""Run metrics: the per-stage summary from the stage records (values recomputed by hand), the end-of-run table of
`sdg run` and the manifest's summary, progress with an ETA, and the Ray metrics a dashboard shows."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import small_job

from sdg.metrics import STAGE_NAMES, StageRecord, bottleneck, export_to_ray, format_table, progress_line, summarize

REPO = Path(__file__).resolve().parents[1]


def _rec(clip, stage, start, end, cpu=0.0, ok=True, attempts=1, worker="w"):
    return StageRecord(clip, stage, start, end, cpu, ok, attempts, worker)


def test_summary_per_stage_by_hand():
    recs = [
        # two simulator actors, 4 s per clip, clips 0..3
        _rec("c0", "simulate", 0, 4, 1.0, worker="a"), _rec("c1", "simulate", 0, 4, 1.0, worker="b"),
        _rec("c2", "simulate", 4, 8, 1.0, worker="a"), _rec("c3", "simulate", 4, 8, 1.0, worker="b", attempts=3),
        # one augment replica, 3 s per clip: c1 waits for c0, c3 for c2
        _rec("c0", "augment", 4, 7, 0.5), _rec("c1", "augment", 7, 10, 0.5), _rec("c2", "augment", 10, 13, 0.5),
        _rec("c3", "augment", 13, 15, 0.5, ok=False),
    ]
    sim, aug = summarize(recs, actors={"simulate": 2, "augment": 1})
    assert (sim.stage, sim.clips, sim.failed, sim.workers, sim.retries) == ("simulate", 4, 0, 2, 2)
    assert sim.clips_per_s == pytest.approx(4 / 8) and sim.mean_s == pytest.approx(4.0) and sim.busy == 1.0
    assert sim.cpu_s_per_clip == pytest.approx(1.0) and sim.max_queue == 0
    assert (aug.clips, aug.failed) == (3, 1)
    assert aug.clips_per_s == pytest.approx(3 / 11) and aug.busy == pytest.approx(11 / 11)
    # at t=8: c0 started augment, c1 started at 7; c2 and c3 finished simulate at 8 and wait: 2 queued (c2, c3)
    assert aug.max_queue == 2
    assert bottleneck([sim, aug]).stage == "augment"  # 2.75 s per clip on 1 replica; simulate 4 s over 2 actors = 2 s
    table = format_table([sim, aug]).splitlines()
    assert table[0].split()[:3] == ["stage", "clips", "failed"] and table[1].split()[:3] == ["simulate", "4", "0"]


def test_progress_line_gives_the_eta_of_the_bottleneck():
    recs = [_rec(f"c{i}", "simulate", 10 * i, 10 * i + 10) for i in range(3)] + \
           [_rec(f"c{i}", "write", 10 * i + 10, 10 * i + 11) for i in range(2)]
    line = progress_line(recs, done=2, total=10, actors={"simulate": 1})
    assert line.startswith("clips 2/10 · simulate 3 · write 2")
    assert line.endswith("ETA 1m20s (simulate)")  # 8 clips left x 10 s
    assert "ETA" not in progress_line(recs, done=10, total=10)


def test_sdg_run_prints_the_table_and_stores_it_in_the_manifest(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(small_job(augmentation={"variants": 1})))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "sdg.cli", "run", str(p), "--output", str(out), "--executor", "local",
                        "--no-exports"], capture_output=True, text=True, cwd=REPO, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["stage", "clips"])
    rows = {ln.split()[0]: ln.split() for ln in lines[head + 1:head + 1 + len(STAGE_NAMES)]}
    assert list(rows) == list(STAGE_NAMES)
    assert all(float(cols[3]) > 0 for cols in rows.values())  # clips/s of every stage
    assert "ETA" in r.stderr or "clips 1/1" in r.stderr  # the progress line
    stages = json.loads((out / "manifest.json").read_text())["last_run"]["stages"]
    assert [s["stage"] for s in stages] == list(STAGE_NAMES)
    for s in stages:
        assert s["clips"] == 1 and s["failed"] == 0 and s["clips_per_s"] > 0 and s["mean_s"] > 0
        assert 0 < s["busy"] <= 1 and s["cpu_s_per_clip"] >= 0 and s["retries"] == 0


@pytest.mark.ray
def test_stage_metrics_reach_rays_metrics_endpoint(ray_cluster):
    """What the Ray dashboard's metrics view reads: the node's Prometheus endpoint lists sdg_stage_* by stage."""
    import httpx
    import ray

    @ray.remote(num_cpus=0.1)
    def work(stage):
        now = time.time()
        export_to_ray(StageRecord("c", stage, now - 1.0, now, 0.5, ok=stage != "augment", attempts=2))
        return stage

    assert sorted(ray.get([work.remote(s) for s in ("simulate", "augment")])) == ["augment", "simulate"]
    port = ray.nodes()[0]["MetricsExportPort"]
    seen: set = set()
    deadline = time.time() + 90
    while time.time() < deadline and not {"clips:simulate", "failures:augment", "retries:augment"} <= seen:
        try:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        except httpx.HTTPError:
            text = ""
        for line in text.splitlines():
            for name in ("clips", "failures", "retries"):
                if line.startswith(f"ray_sdg_stage_{name}") and not line.startswith("#"):
                    stage = line.split('stage="', 1)[1].split('"', 1)[0] if 'stage="' in line else ""
                    seen.add(f"{name}:{stage}")
        time.sleep(2)
    assert {"clips:simulate", "failures:augment", "retries:augment"} <= seen, seen
