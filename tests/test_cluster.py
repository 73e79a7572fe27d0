"""sdg on Ray clusters, as the README's cluster section says to run it:

- a head and a worker node started with `ray start` as separate processes on 127.0.0.1 (token authentication on,
  the worker holding the custom resources `carla` and `cosmos` the simulate and augment stages require), the job
  submitted with `ray job submit --working-dir . --runtime-env-json ...`, writing to S3 (moto in server mode on
  127.0.0.1), every row read back from the bucket and `sdg inspect s3://...` run on it;
- a plain local `sdg run` whose Ray listens on 127.0.0.1 only;
- bad input: an unreachable Ray address, a stage needing a resource no node has: one line, exit 2, nothing written.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import free_port, small_job
from raycluster import RayNodes

REPO = Path(__file__).resolve().parents[1]
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


def tiny_job(**over) -> dict:
    """3 clips of 2 frames at 160x90, 1 variant: the smallest job that still has several clips."""
    job = small_job(
        cameras=[{"name": "corner", "width": 160, "height": 90, "fov": 90.0, "location": [-22.0, -22.0, 9.0],
                  "rotation": [0.0, -22.0, 45.0]}],
        clip_frames=2, augmentation={"variants": 1})
    job["resources"] = {**job["resources"], **over.pop("resources", {})}
    job.update(over)
    return job


def listening(pids) -> set[tuple[str, int]]:
    """(address, port) of every listening TCP socket of these processes."""
    out = set()
    for pid in pids:
        try:
            for c in psutil.Process(pid).net_connections(kind="inet"):
                if c.status == psutil.CONN_LISTEN:
                    out.add((c.laddr.ip, c.laddr.port))
        except (psutil.Error, OSError):
            pass
    return out


def sdg(*args, env=None, timeout=600, **kw) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    e.update({"PYTHONPATH": str(REPO), **(env or {})})
    return subprocess.run([sys.executable, "-m", "sdg.cli", *args], capture_output=True, text=True, cwd=REPO, env=e,
                          timeout=timeout, **kw)


def one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stdout + r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.mark.slow
def test_two_node_cluster_job_submit_to_s3(tmp_path, s3_server, monkeypatch):
    bucket = s3_server.make_bucket("sdg-cluster")
    uri = f"s3://{bucket}/run1"
    job = tiny_job(name="cluster-tiny",
                   resources={"stages": {"simulate": {"resources": {"carla": 1}},
                                          "augment": {"resources": {"cosmos": 1}}}})
    cfg_path = tmp_path / "cluster_tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(job))
    # the nodes get the S3 endpoint and credentials in their environment (as an instance profile would), never in
    # the job config nor in runtime_env (which the dashboard shows)
    nodes = RayNodes(tmp_path / "cluster", env=s3_server.env())
    try:
        nodes.start_head(num_cpus=1)
        nodes.wait_for_nodes(1)
        nodes.add_worker(num_cpus=1, resources={"carla": 1, "cosmos": 1})
        alive = nodes.wait_for_nodes(2)
        worker_id = next(n["node_id"] for n in alive if not n.get("is_head_node"))
        assert {n["node_ip"] for n in alive} == {"127.0.0.1"}
        ports = listening(nodes.pids())
        assert ports and {ip for ip, _ in ports} <= LOOPBACK, ports
        # token authentication is on: a client with another token is refused
        bad = tmp_path / "other_token"
        bad.write_text("0" * 64)
        r = nodes.ray("job", "list", "--address", nodes.dashboard, env={"RAY_AUTH_TOKEN_PATH": str(bad)}, timeout=120)
        assert r.returncode != 0 and "token authentication is enabled" in r.stderr + r.stdout, r.stderr[-2000:]

        runtime_env = {"excludes": [".git", "out", "tests"], "env_vars": {"SDG_LOG_NOTE": "cluster test"}}
        r = nodes.ray("job", "submit", "--address", nodes.dashboard, "--working-dir", str(REPO),
                      "--runtime-env-json", json.dumps(runtime_env), "--",
                      "sdg", "run", str(cfg_path), "--output", uri, timeout=1200, cwd=REPO)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-6000:]
        assert "3 clip(s) committed, 0 already done, 0 failed" in out
        secret = s3_server.env()["AWS_SECRET_ACCESS_KEY"]
        assert secret not in out
        # every row, read back from the bucket
        keys = s3_server.keys(bucket, "run1/")
        man = json.loads(s3_server.client().get_object(Bucket=bucket, Key="run1/manifest.json")["Body"].read())
        assert sorted(man["clips"]) == ["col.corner.f00000", "col.corner.f00002", "col.corner.f00004"]
        assert secret not in json.dumps(man)
        rows = []
        from sdg.storage import open_location

        for k, v in s3_server.env().items():  # this process reads the bucket like any client
            monkeypatch.setenv(k, v)
        loc = open_location(uri)
        for e in man["clips"].values():
            assert keys[f"run1/{e['shard']}"] == e["bytes"]
            t = pq.read_table(loc.open_input(e["shard"]))
            rows += list(zip(t["clip_id"].to_pylist(), t["frame_index"].to_pylist(), t["variant"].to_pylist()))
        assert sorted(rows) == [(f"col.corner.f0000{f - f % 2}", f, 0) for f in range(6)]
        assert {"run1/exports/coco_train.json", "run1/exports/odvg_train.jsonl", "run1/exports/llava_train.json",
                "run1/README.md", "run1/reports/qa.json"} <= set(keys)
        # the simulate and augment actors were placed on the worker (the only node with carla / cosmos)
        r = nodes.ray("list", "actors", "--address", nodes.dashboard, "--format", "json", "--detail", "--limit",
                      "10000", timeout=120)
        assert r.returncode == 0, r.stderr
        placed = {}
        for a in json.loads(r.stdout):
            for stage in ("simulate", "augment"):  # the actor stages (the others run as tasks)
                if f"MapBatches({stage})" in (a.get("class_name") or ""):
                    placed.setdefault(stage, set()).add(a["node_id"])
        assert placed.get("simulate") == {worker_id} and placed.get("augment") == {worker_id}, placed
        print(f"\nFIGURES cluster: 2 nodes {[n['node_ip'] for n in alive]}, {len(ports)} listening sockets all on "
              f"loopback, {len(man['clips'])} clips / {len(rows)} rows read back from {uri}, simulate+augment actors "
              f"on the worker")
        # and read back from the bucket with `sdg inspect`
        r = sdg("inspect", uri, "--sample", "3", env=s3_server.env())
        assert r.returncode == 0, r.stderr
        assert f"{uri}: 3 clip shard(s), 6 rows" in r.stdout
        assert "run1/inspect/contact_sheet.png" in s3_server.keys(bucket, "run1/inspect/")
    finally:
        nodes.stop()
    assert nodes.pids() == []


@pytest.mark.slow
def test_local_run_listens_on_loopback_only(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(tiny_job(clip_frames=None)))
    e = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    e["PYTHONPATH"] = str(REPO)
    proc = subprocess.Popen([sys.executable, "-m", "sdg.cli", "run", str(p), "--output", str(tmp_path / "out"),
                             "--no-exports"], cwd=REPO, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    seen: set[tuple[str, int]] = set()
    try:
        while proc.poll() is None:
            pids = [q.pid for q in psutil.process_iter() if _sid(q.pid) == proc.pid]
            seen |= listening(pids)
            time.sleep(0.3)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, output[-4000:]
    assert len(seen) >= 3, seen  # the GCS, the raylet, the workers... were seen listening
    assert {ip for ip, _ in seen} <= LOOPBACK, seen


def _sid(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:
        return None


def test_unreachable_ray_address_is_one_line_exit_2(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(tiny_job()))
    port = free_port()
    out = tmp_path / "out"
    line = one_line(sdg("run", str(p), "--output", str(out), "--ray-address", f"127.0.0.1:{port}", timeout=120))
    assert f"127.0.0.1:{port}" in line and "RAY_ADDRESS" in line
    line = one_line(sdg("run", str(p), "--output", str(out), env={"RAY_ADDRESS": f"127.0.0.1:{port}"}, timeout=120))
    assert f"127.0.0.1:{port}" in line
    assert not out.exists()


@pytest.mark.slow
def test_stage_needing_a_resource_no_node_has_is_one_line_exit_2(tmp_path):
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(tiny_job(resources={"stages": {"simulate": {"resources": {"carla": 1}}}})))
    out = tmp_path / "out"
    line = one_line(sdg("run", str(p), "--output", str(out), timeout=300))
    assert "simulate" in line and "carla" in line, line
    assert not out.exists()
    bad = tiny_job(resources={"stages": {"simulation": {"resources": {"carla": 1}}}})
    p.write_text(yaml.safe_dump(bad))
    r = sdg("run", str(p), "--output", str(out), "--executor", "local", timeout=300)
    one_line(r)
    assert "resources.stages" in r.stderr and "simulation" in r.stderr
