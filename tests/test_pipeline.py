"""End to end: the same stages through the in-process executor and through Ray Data; resume; bad input."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import small_job

from sdg.codec import decode_array, decode_image
from sdg.config import parse_config
from sdg.model import GROUND_TRUTH_COLUMNS, ROW_SCHEMA
from sdg.run import run_job

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    res = run_job(parse_config(small_job()), out, executor="local")
    return out, res


def _table(out):
    man = json.loads((out / "manifest.json").read_text())
    return pq.read_table(out / man["clips"]["col.corner"]["shard"])


def test_local_run_writes_a_complete_shard(local_run):
    out, res = local_run
    assert res.ok and res.committed == ["col.corner"]
    t = _table(out)
    assert t.schema.equals(ROW_SCHEMA)
    assert t.num_rows == 2 * 6  # variants x frames
    rows = t.to_pylist()
    assert sorted({(r["variant"], r["frame_index"]) for r in rows}) == [(v, f) for v in (0, 1) for f in range(6)]
    r0 = rows[0]
    assert decode_image(r0["image"]).shape == (180, 320, 3)
    assert decode_image(r0["som_image"]).shape == (180, 320, 3)
    assert decode_array(r0["depth"]).shape == (180, 320) and decode_array(r0["depth"]).dtype == np.float32
    assert all(r["objects"] for r in rows) and any(r["qa"] for r in rows)
    assert {r["prompt"] for r in rows if r["variant"] == 0} != {r["prompt"] for r in rows if r["variant"] == 1}
    assert any(e["kind"] == "collision" for r in rows for e in r["events"])


def test_marks_are_stable_per_actor_and_numbered_from_one(local_run):
    rows = _table(local_run[0]).to_pylist()
    mark_of = {}
    for r in rows:
        for o in r["objects"]:
            if o["mark"]:
                assert mark_of.setdefault(o["actor_id"], o["mark"]) == o["mark"]
    marks = sorted(set(mark_of.values()))
    assert marks == list(range(1, len(marks) + 1))


def test_exports_written(local_run):
    out = local_run[0] / "exports"
    coco = json.loads(next(out.glob("*coco*.json")).read_text())
    assert coco["images"] and coco["annotations"]


def test_resume_skips_committed_and_redoes_lost(local_run, tmp_path):
    out, _ = local_run
    cfg = parse_config(small_job())
    again = run_job(cfg, out, executor="local", exports=False)
    assert again.committed == [] and again.skipped == ["col.corner"]


def test_rerun_is_byte_identical_in_ground_truth(local_run, tmp_path):
    out2 = tmp_path / "second"
    run_job(parse_config(small_job()), out2, executor="local", exports=False)
    a, b = _table(local_run[0]), _table(out2)
    for col in GROUND_TRUTH_COLUMNS + ("prompt", "look"):
        assert a[col].equals(b[col]), col


@pytest.mark.ray
def test_ray_executor_matches_local(local_run, ray_cluster, tmp_path):
    res = run_job(parse_config(small_job()), tmp_path / "ray", executor="ray")
    assert res.ok, res.failed
    a, b = _table(local_run[0]), _table(tmp_path / "ray")
    a, b = a.sort_by([("variant", "ascending"), ("frame_index", "ascending")]), \
        b.sort_by([("variant", "ascending"), ("frame_index", "ascending")])
    for col in GROUND_TRUTH_COLUMNS:
        assert a[col].equals(b[col]), col


def _cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sdg.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_cli_bad_config_exits_nonzero_naming_field_and_writes_nothing(tmp_path):
    bad = small_job()
    bad["cameras"][0]["fov"] = 0
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    out = tmp_path / "out"
    r = _cli("run", str(p), "--output", str(out))
    assert r.returncode == 2
    assert "cameras.0.fov" in r.stderr and str(p) in r.stderr
    assert not out.exists()


def test_cli_unknown_scenario_kind_names_it(tmp_path):
    bad = small_job()
    bad["scenarios"][0]["scenario"] = "alien_invasion"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    out = tmp_path / "out"
    r = _cli("run", str(p), "--output", str(out))
    assert r.returncode == 2 and "alien_invasion" in r.stderr
    assert not (out / "shards").exists()


def _replay_job(log: Path, **extra):
    return small_job(scenarios=[{
        "kind": "recording", "id": "rec", "log": str(log),
        "scenario_json": str(REPO / "configs/recordings/intersection_collision.json"), "fps": 2, **extra}],
        augmentation={"variants": 1})


@pytest.mark.parametrize("extra", [{}, {"xodr": str(REPO / "tests/data/crossroads.xodr")}], ids=["builtin-map", "xodr"])
def test_recording_replays_end_to_end_on_the_builtin_simulator(tmp_path, extra):
    res = run_job(parse_config(_replay_job(REPO / "configs/recordings/intersection_collision.log", **extra)),
                  tmp_path / "rec", executor="local", exports=False)
    assert res.ok, res.failed
    man = json.loads((tmp_path / "rec" / "manifest.json").read_text())
    rows = pq.read_table(tmp_path / "rec" / man["clips"]["rec.corner"]["shard"]).to_pylist()
    assert len(rows) == 8  # 4 s window at 2 fps
    assert rows[0]["timestamp"] == pytest.approx(3.0)  # recording seconds
    sources = {o["size_source"] for r in rows for o in r["objects"]}
    assert sources <= {"log", "table", "default"} and "log" in sources
    assert any(e["kind"] == "collision" and e["active"] for r in rows for e in r["events"])


def test_truncated_log_exits_2_naming_file_and_offset_and_writes_nothing(tmp_path):
    src = (REPO / "configs/recordings/intersection_collision.log").read_bytes()
    log = tmp_path / "cut.log"
    log.write_bytes(src[: len(src) // 2 + 3])
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(_replay_job(log)))
    out = tmp_path / "out"
    r = _cli("run", str(p), "--output", str(out))
    assert r.returncode == 2, r.stderr
    assert "cut.log" in r.stderr and "offset" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (out / "shards").exists()


def test_clip_frames_splits_scenarios_into_windows(tmp_path):
    from sdg.clips import plan_clips

    cfg = parse_config(small_job(clip_frames=4, augmentation={"variants": 1}))
    specs = plan_clips(cfg)
    assert [s.clip_id for s in specs] == ["col.corner.f00000", "col.corner.f00004"]
    assert [s.frames for s in specs] == [(0, 4), (4, 6)]
    res = run_job(cfg, tmp_path / "w", executor="local", exports=False)
    assert res.ok and sorted(res.committed) == ["col.corner.f00000", "col.corner.f00004"]
    man = json.loads((tmp_path / "w" / "manifest.json").read_text())
    frames = sorted(f for e in man["clips"].values()
                    for f in pq.read_table(tmp_path / "w" / e["shard"])["frame_index"].to_pylist())
    assert frames == list(range(6))  # every frame exactly once, nothing lost or duplicated


def test_a_failing_clip_is_reported_not_written_and_redone_on_resume(tmp_path, monkeypatch):
    import sdg.stages.augment as augment_stage
    from sdg.augment.builtin import BuiltinAugmenter

    class Flaky(BuiltinAugmenter):
        def augment(self, req):
            if req.clip_id == "col.corner.f00004":
                raise RuntimeError("GPU fell off the bus")
            return super().augment(req)

    cfg = parse_config(small_job(clip_frames=4, augmentation={"variants": 1}))
    monkeypatch.setattr(augment_stage, "make_augmenter", lambda cfg: Flaky())
    first = run_job(cfg, tmp_path / "r", executor="local", exports=False)
    assert not first.ok and list(first.failed) == ["col.corner.f00004"]
    assert "augment: RuntimeError: GPU fell off the bus" in first.failed["col.corner.f00004"]
    assert first.committed == ["col.corner.f00000"]
    assert sorted(p.name for p in (tmp_path / "r" / "shards").iterdir()) == ["part-col.corner.f00000.parquet"]
    monkeypatch.undo()
    second = run_job(cfg, tmp_path / "r", executor="local", exports=False)
    assert second.ok and second.skipped == ["col.corner.f00000"] and second.committed == ["col.corner.f00004"]


def test_killed_run_resumes_without_losing_or_duplicating_frames(tmp_path):
    """SIGKILL `sdg run` after its first commit, run it again: every frame exactly once, no temp files left."""
    import signal
    import time

    job = small_job(clip_frames=2, augmentation={"variants": 1})  # 3 clips of 2 frames
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(job))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sdg.cli", "run", str(p), "--output", str(out), "--executor",
                             "local", "--no-exports"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    committed = {}
    while time.time() < deadline and proc.poll() is None:
        try:
            committed = json.loads((out / "manifest.json").read_text()).get("clips", {})
        except (FileNotFoundError, json.JSONDecodeError):
            committed = {}
        if committed:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(timeout=60)
    if len(committed) == 3:
        pytest.skip("the run finished before it could be killed")
    assert proc.returncode == -signal.SIGKILL
    r = _cli("run", str(p), "--output", str(out), "--executor", "local", "--no-exports")
    assert r.returncode == 0, r.stderr
    man = json.loads((out / "manifest.json").read_text())
    assert sorted(man["clips"]) == ["col.corner.f00000", "col.corner.f00002", "col.corner.f00004"]
    assert set(man["last_run"]["skipped"]) >= set(committed)
    frames = sorted(f for e in man["clips"].values()
                    for f in pq.read_table(out / e["shard"])["frame_index"].to_pylist())
    assert frames == list(range(6))
    assert sorted(x.name for x in (out / "shards").iterdir()) == [
        "part-col.corner.f00000.parquet", "part-col.corner.f00002.parquet", "part-col.corner.f00004.parquet"]


def _one_line_exit_2(r, *needles):
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr and all(n in lines[0] for n in needles), lines[0]
    return lines[0]


def test_cli_unwritable_output_is_one_line_exit_2_and_writes_nothing(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(small_job()))
    r = _cli("run", str(p), "--output", "/proc/forbidden/out")
    _one_line_exit_2(r, "/proc/forbidden/out", "not writable", "--output")
    assert not Path("/proc/forbidden").exists()


def test_cli_missing_bucket_is_one_line_exit_2(tmp_path, s3_server):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(small_job()))
    env = {**os.environ, "PYTHONPATH": str(REPO), **s3_server.env()}
    r = subprocess.run([sys.executable, "-m", "sdg.cli", "run", str(p), "--output", "s3://missing-bucket/x"],
                       capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    line = _one_line_exit_2(r, "s3://missing-bucket/x", "bucket 'missing-bucket' does not exist", s3_server.url)
    assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in r.stderr + r.stdout
    assert "aws s3 mb s3://missing-bucket" in line
    assert "missing-bucket" not in {b["Name"] for b in s3_server.client().list_buckets()["Buckets"]}


def test_cli_inspect_of_a_missing_bucket_or_an_empty_prefix_is_one_line_exit_2(s3_server):
    env = {**os.environ, "PYTHONPATH": str(REPO), **s3_server.env()}
    bucket = s3_server.make_bucket("inspect-empty")
    for uri in ("s3://missing-bucket/x", f"s3://{bucket}/nothing"):
        r = subprocess.run([sys.executable, "-m", "sdg.cli", "inspect", uri], capture_output=True, text=True,
                           cwd=REPO, env=env, timeout=300)
        _one_line_exit_2(r, f"{uri}: no manifest.json", "not an sdg output folder")
        assert s3_server.env()["AWS_SECRET_ACCESS_KEY"] not in r.stderr + r.stdout
    assert s3_server.keys(bucket) == {}  # nothing written


def test_run_to_s3_then_inspect_and_exports_from_the_bucket(tmp_path, s3_env, local_run, capsys):
    """The same job written to s3:// (moto): shards, manifest and exports in the bucket, rows equal to the local run,
    `sdg inspect s3://...` reads them back (the exported mp4s through local temporary copies) and publishes its
    sheets and HTML report (with its img/ folder) there."""
    bucket = s3_env.make_bucket("e2e")
    uri = f"s3://{bucket}/tiny"
    job = small_job(output={"exports": ["coco", "odvg", "llava", "video"]})
    res = run_job(parse_config(job), uri, executor="local")
    assert res.ok and res.committed == ["col.corner"] and res.out_dir == uri
    keys = s3_env.keys(bucket)
    assert "tiny/manifest.json" in keys and "tiny/shards/part-col.corner.parquet" in keys
    assert {"tiny/exports/coco_train.json", "tiny/exports/odvg_train.jsonl", "tiny/exports/llava_train.json",
            "tiny/exports/aicity_train.json", "tiny/reports/qa.json", "tiny/README.md"} <= set(keys)
    assert not [k for k in keys if k.rsplit("/", 1)[-1].startswith(".")]  # no temp keys left
    from sdg.export.shards import Manifest

    m = Manifest(uri)
    t = m.read_table(m.files()[0])
    local = _table(local_run[0])
    key = [("variant", "ascending"), ("frame_index", "ascending")]
    for col in GROUND_TRUTH_COLUMNS + ("prompt", "look", "image"):
        assert t.sort_by(key)[col].equals(local.sort_by(key)[col]), col
    coco = json.loads(m.location.read_bytes("exports/coco_train.json"))
    local_coco = json.loads(next((local_run[0] / "exports").glob("*coco*.json")).read_text())
    assert len(coco["images"]) == len(local_coco["images"]) == 12
    for img in coco["images"]:
        assert f"tiny/exports/{img['file_name']}" in keys
    from sdg.inspect import inspect_output

    report = inspect_output(uri, sample=3)
    assert report.counts["rows"] == 12 and report.counts["clips"] == 1
    assert report.images[0] == f"{uri}/inspect/contact_sheet.png"
    import cv2

    png = m.location.read_bytes("inspect/contact_sheet.png")
    assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).shape[2] == 3
    # the HTML report and every image it shows are in the bucket, report.html published last
    assert report.html == f"{uri}/inspect/report.html"
    keys = s3_env.keys(bucket)
    assert {f"tiny/inspect/{n}.png" for n in ("contact_sheet", "modalities", "looks", "builtin_looks")} <= set(keys)
    html = m.location.read_bytes("inspect/report.html").decode()
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) >= 10 and all(s.startswith("img/") for s in srcs)
    assert {k for k in keys if k.startswith("tiny/inspect/img/")} == {f"tiny/inspect/{s}" for s in set(srcs)}
    for s in set(srcs):
        jpg = cv2.imdecode(np.frombuffer(m.location.read_bytes(f"inspect/{s}"), np.uint8), cv2.IMREAD_COLOR)
        assert jpg is not None and jpg.std() > 5, s
    n_events = sum(len(r["events"]) for r in m.read_table(m.files("videos")[0], ["events"]).to_pylist())
    assert n_events and len(re.findall(r'data-event="[^"]+" data-frame="(?:first|last)"', html)) == 2 * n_events
    assert f"<p>{uri}</p>" in html and not [k for k in keys if k.rsplit("/", 1)[-1].startswith(".")]
    # an exported mp4 is read through a local copy, gone afterwards, with the frames the bucket's bytes hold
    from sdg.augment.video import decode_mp4, read_mp4
    from sdg.inspect.folder import OutputFolder

    folder = OutputFolder(uri)
    rel = folder.som_mp4("col.corner", 0)
    assert rel == "exports/videos/col.corner/v0_som.mp4" and f"tiny/{rel}" in keys
    with folder.local_file(rel) as p:
        frames = read_mp4(p)
        assert p.is_file() and not str(p).startswith("s3:")
    assert not p.exists()
    assert np.array_equal(frames, decode_mp4(m.location.read_bytes(rel))) and len(frames) == 6
    # the command prints the sheets' and the report's URIs
    from sdg.cli import main

    assert main(["inspect", uri, "--sample", "3"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {uri}/inspect/contact_sheet.png" in out and f"wrote {uri}/inspect/report.html" in out
