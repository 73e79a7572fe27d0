"""Faults injected into real runs, each survived with nothing lost or duplicated:

- a simulator actor SIGKILLed mid-clip: Ray re-runs the clip (bounded by resources.clip_retries); with no retries
  left the clip is recorded as failed (stage, reason, attempts) and the next run makes it;
- the Cosmos-Transfer endpoint (the real Gradio test server) answering 30 % of generations with HTTP 503 and 10 %
  late: the client retries with jittered backoff, every row is written, the retries are in the run summary;
- the augment Serve replica SIGKILLed mid-run: Serve replaces it, the clip's stage is retried, the job completes;
- a clip that still fails after its retries: recorded in the manifest with stage, reason and attempt count, exit
  code 1, retried (and made) by the next run.
(The driver SIGKILLed mid-run is tests/test_pipeline.py::test_killed_run_resumes_without_losing_or_duplicating_frames.)
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import small_job  # noqa: E402
from servers.fixtures import cosmos_server  # noqa: E402,F401 (the shared session server)

from sdg.cli import main  # noqa: E402
from sdg.codec import decode_image  # noqa: E402
from sdg.config import parse_config  # noqa: E402
from sdg.run import run_job  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")
CLIPS = ["col.corner.f00000", "col.corner.f00002", "col.corner.f00004"]


def three_clips(**over) -> dict:
    """The small job cut into 3 clips of 2 frames, 1 variant."""
    job = small_job(clip_frames=2, augmentation={"variants": 1})
    for k, v in over.items():
        job[k] = {**job.get(k, {}), **v} if isinstance(v, dict) else v
    return job


def frames_of(out: Path) -> list[tuple[str, int, int]]:
    man = json.loads((out / "manifest.json").read_text())
    rows = []
    for e in man["clips"].values():
        t = pq.read_table(out / e["shard"], columns=["clip_id", "variant", "frame_index"])
        rows += list(zip(t["clip_id"].to_pylist(), t["variant"].to_pylist(), t["frame_index"].to_pylist()))
    return sorted(rows)


class Killer:
    """SIGKILLs (once) a process of this test's own Ray cluster (a descendant of this process) whose title contains
    ``needle`` and satisfies ``when``; records the titles and pids it saw."""

    def __init__(self, needle: str, when=lambda title: True, after=lambda: True):
        self.needle, self.when, self.after = needle, when, after
        self.killed: list[tuple[int, str]] = []
        self.seen: dict[int, str] = {}
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = psutil.Process()
        while not self._stop.is_set():
            for p in me.children(recursive=True):
                try:
                    title = " ".join(p.cmdline()).strip()
                except (psutil.Error, OSError):
                    continue
                if self.needle not in title:
                    continue
                self.seen.setdefault(p.pid, title)
                if not self.killed and self.when(title) and self.after():
                    time.sleep(0.2)  # well inside the task
                    os.kill(p.pid, signal.SIGKILL)
                    self.killed.append((p.pid, title))
            self._stop.wait(0.05)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(5)


def _mid_clip(title: str) -> bool:
    return title.endswith(".submit")  # Ray titles an actor "ray::<Class>.<method>" while it runs a task


@pytest.mark.ray
@pytest.mark.slow
def test_simulator_actor_killed_mid_clip(ray_cluster, tmp_path):
    """First with resources.clip_retries=0: the clips the dead actor held are recorded as failed (simulate,
    WorkerLost, 1 attempt) and the others committed; then, with retries, the next run kills the simulator again
    mid-clip, Ray re-runs the clip on a new actor, and the job completes with every frame exactly once."""
    out = tmp_path / "out"
    cfg = parse_config(three_clips(resources={"clip_retries": 0, "retry_backoff": 0.1}))
    with Killer("MapBatches(simulate)", _mid_clip) as k:
        first = run_job(cfg, out, executor="ray", exports=False)
    assert len(k.killed) == 1, k.seen
    first_kill = k.killed[0][0]
    assert not first.ok and first.failed and set(first.failed) | set(first.committed) == set(CLIPS)
    man = json.loads((out / "manifest.json").read_text())
    for clip in first.failed:
        f = man["failed"][clip]
        assert (f["stage"], f["error"], f["attempts"], f["retryable"]) == ("simulate", "WorkerLost", 1, True), f
        assert "clip_retries=0" in f["message"]
    assert sorted(man["clips"]) == sorted(first.committed)

    cfg = parse_config(three_clips(resources={"clip_retries": 2, "retry_backoff": 0.1}))
    with Killer("MapBatches(simulate)", _mid_clip) as k:
        second = run_job(cfg, out, executor="ray", exports=False)
    assert len(k.killed) == 1, k.seen
    killed_pid = k.killed[0][0]
    assert second.ok, second.failed
    assert sorted(second.committed) == sorted(first.failed) and sorted(second.skipped) == sorted(first.committed)
    assert set(second.redone.values()) == {"failed last run (simulate: WorkerLost)"}
    assert not psutil.pid_exists(killed_pid) or psutil.Process(killed_pid).status() == psutil.STATUS_ZOMBIE
    assert [p for p in k.seen if p != killed_pid], "no simulate actor replaced the killed one"
    assert frames_of(out) == [(c, 0, f) for c in CLIPS for f in (int(c[-1]), int(c[-1]) + 1)]
    assert json.loads((out / "manifest.json").read_text())["failed"] == {}
    print(f"\nFIGURES simulator kill: retries=0 run: killed pid {first_kill} mid-clip, failed "
          f"{sorted(first.failed)}, committed {sorted(first.committed)}; retries=2 run: killed pid {killed_pid}, Ray "
          f"re-ran it, committed {sorted(second.committed)}, frames exactly once: {len(frames_of(out))} rows")


# ------------------------------------------------------------------------------------------------ Cosmos faults
FAULTS = ("ok", "503", "ok", "ok", "503", "ok", "ok", "503", "ok", "timeout")  # 30 % 503, 10 % late


def cosmos_job(url: str, **over) -> dict:
    """The 3-clip job augmented by the Cosmos client (in-process: --executor local) against the test server."""
    endpoints = {"cosmos_url": url, "cosmos_timeout": 2.0, "cosmos_retries": 3, "cosmos_backoff": 0.2,
                 **over.pop("endpoints", {})}
    return three_clips(backends={"augmenter": "cosmos", "prompts": "template", "serve": "never"},
                       endpoints=endpoints, **over)


def test_cosmos_503_and_timeouts_are_retried_with_backoff(cosmos_server, tmp_path, capsys):
    cosmos_server.reset(faults=FAULTS, fault_delay=3.5)
    job = cosmos_job(cosmos_server.url, augmentation={"variants": 3})
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(job))
    out = tmp_path / "out"
    assert main(["run", str(p), "--output", str(out), "--executor", "local", "--no-exports"]) == 0
    printed = capsys.readouterr().out
    injected = cosmos_server.injected
    assert injected["503"] >= 3 and injected["timeout"] >= 1, injected  # 9 generations need 14 calls
    n_faults = injected["503"] + injected["timeout"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["last_run"]["retries"]["augment"] == n_faults  # one retry per fault, none lost
    assert f"retries: augment {n_faults} (over " in printed
    # every row, once; the augmented frames are the server's
    rows = frames_of(out)
    assert rows == sorted((c, v, f) for c in CLIPS for v in range(3) for f in (int(c[-1]), int(c[-1]) + 1))
    per_variant = 0
    for e in man["clips"].values():
        t = pq.read_table(out / e["shard"], columns=["variant", "image", "provenance"])
        assert all(decode_image(b).shape == (180, 320, 3) for b in t["image"].to_pylist())
        provs = {v: json.loads(pv) for v, pv in zip(t["variant"].to_pylist(), t["provenance"].to_pylist())}
        assert all(pv["augmenter"] == "cosmos" for pv in provs.values())
        per_variant += sum(pv["retries"] for pv in provs.values())
        assert e["stats"]["augment_retries"] == sum(pv["retries"] for pv in provs.values())
    assert per_variant == n_faults
    print(f"\nFIGURES cosmos faults: {cosmos_server.generate_joins} generate calls, injected {injected}, retries in "
          f"the run summary {man['last_run']['retries']['augment']}, rows {len(rows)}")
    # each retry waited: at least the jittered backoff after a 503 (0.5 x 0.2 s), the client timeout after a late one
    times = cosmos_server.join_times
    for (t0, outcome), (t1, _) in zip(times, times[1:]):
        if outcome == "503":
            assert t1 - t0 >= 0.1, times
        elif outcome == "timeout":
            assert t1 - t0 >= 2.0, times


def test_clip_failing_after_its_retries_is_recorded_exit_1_and_made_next_run(cosmos_server, tmp_path, capsys):
    bad = "col.corner.f00002"
    cosmos_server.reset(fail_names=(bad,))  # the server's "workers restarted" answer, every time, for this clip
    job = cosmos_job(cosmos_server.url, endpoints={"cosmos_retries": 1, "cosmos_backoff": 0.05},
                     resources={"clip_retries": 1, "retry_backoff": 0.05})
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(job))
    out = tmp_path / "out"
    argv = ["run", str(p), "--output", str(out), "--executor", "local", "--no-exports"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"error: clip {bad}: augment: CosmosUnavailable" in err and "after 2 attempt(s)" in err
    assert cosmos_server.injected["restarted"] == 4  # 2 clip attempts x (1 call + 1 client retry)
    man = json.loads((out / "manifest.json").read_text())
    f = man["failed"][bad]
    assert (f["stage"], f["error"], f["attempts"], f["retryable"]) == ("augment", "CosmosUnavailable", 2, True)
    assert "Restarted all workers" in f["message"] or "restarted" in f["message"].lower()
    assert sorted(man["clips"]) == [c for c in CLIPS if c != bad]
    assert man["last_run"]["failures"][bad]["attempts"] == 2
    assert not (out / "shards" / f"part-{bad}.parquet").exists()
    print(f"\nFIGURES failing clip: manifest failed entry {f['stage']}/{f['error']} after {f['attempts']} attempts, "
          f"server answered 'restarted' {cosmos_server.injected['restarted']} times")

    cosmos_server.reset()
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "1 clip re-done: failed last run (augment: CosmosUnavailable)" in printed
    man = json.loads((out / "manifest.json").read_text())
    assert man["failed"] == {} and sorted(man["clips"]) == CLIPS
    assert man["last_run"]["committed"] == [bad]
    assert frames_of(out) == [(c, 0, f) for c in CLIPS for f in (int(c[-1]), int(c[-1]) + 1)]


def _simulating() -> bool:
    """Whether a simulate actor of this test's cluster is running a clip (the pipeline is under way)."""
    for p in psutil.Process().children(recursive=True):
        try:
            if "MapBatches(simulate)" in " ".join(p.cmdline()) and _mid_clip(" ".join(p.cmdline()).strip()):
                return True
        except (psutil.Error, OSError):
            pass
    return False


@pytest.mark.ray
@pytest.mark.slow
def test_serve_replica_killed_mid_run(ray_cluster, tmp_path):
    """The builtin augmenter behind the `augment` Serve app; its replica is SIGKILLed while the first clip is being
    simulated (before any clip reached it). Serve starts a new replica, the augment stage retries the calls that hit
    the dead one, the job completes."""
    out = tmp_path / "out"
    cfg = parse_config(three_clips(backends={"serve": "always"},
                                   resources={"clip_retries": 5, "retry_backoff": 2.0}))
    with Killer("ServeReplica:augment:Augmenter", after=_simulating) as k:
        res = run_job(cfg, out, executor="ray", exports=False)
    assert len(k.killed) == 1, k.seen
    killed_pid = k.killed[0][0]
    assert res.ok, res.failed
    assert sorted(res.committed) == CLIPS
    assert [p for p in k.seen if p != killed_pid], "Serve did not start another augment replica"
    assert frames_of(out) == [(c, 0, f) for c in CLIPS for f in (int(c[-1]), int(c[-1]) + 1)]
    provs = {json.loads(pv)["augmenter"] for e in json.loads((out / "manifest.json").read_text())["clips"].values()
             for pv in pq.read_table(out / e["shard"], columns=["provenance"])["provenance"].to_pylist()}
    assert provs == {"serve:augment/builtin"}
    print(f"\nFIGURES serve replica kill: killed {killed_pid}, replicas seen {sorted(k.seen)}, committed "
          f"{len(res.committed)} clips")
