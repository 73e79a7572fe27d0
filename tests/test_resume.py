"""Re-runs into the same output: every clip's manifest entry carries the fingerprint of its inputs; a re-run redoes
exactly the clips whose inputs changed (and says why), never mixes rows of two fingerprints; a changed job name is
refused; --overwrite starts over."""
from __future__ import annotations

import copy
import json

import pyarrow.parquet as pq
import pytest
import yaml
from conftest import small_job

from sdg.cli import main
from sdg.config import parse_config
from sdg.model import GROUND_TRUTH_COLUMNS
from sdg.run import run_job

CLIPS = ["a.east", "a.north", "b.east", "b.north"]


def tiny(**over) -> dict:
    """2 scenarios x 2 cameras = 4 clips of 3 frames at 160x90, 1 variant."""
    cam = {"width": 160, "height": 90, "fov": 90.0, "rotation": [0.0, -22.0, 45.0]}
    job = small_job(
        cameras=[{"name": "east", "location": [-22.0, -22.0, 9.0], **cam},
                 {"name": "north", "location": [-20.0, -24.0, 10.0], **cam}],
        scenarios=[{"id": "a", "scenario": "collision", "seed": 1, "duration": 3.0, "fps": 1.0, "vehicles": 4,
                    "pedestrians": 2},
                   {"id": "b", "scenario": "wrong_way", "seed": 2, "duration": 3.0, "fps": 1.0, "vehicles": 4,
                    "pedestrians": 2}],
        augmentation={"variants": 1})
    job.update(over)
    return job


def run(job: dict, out, **kw):
    return run_job(parse_config(copy.deepcopy(job)), out, executor="local", exports=False, **kw)


def manifest(out) -> dict:
    return json.loads((out / "manifest.json").read_text())


def shard(out, clip):
    return pq.read_table(out / manifest(out)["clips"][clip]["shard"])


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "out"
    res = run(tiny(), out)
    assert res.ok and sorted(res.committed) == CLIPS
    return out


def test_entries_carry_fingerprints_of_their_inputs(first):
    m = manifest(first)
    fps = {c: e["fingerprint"] for c, e in m["clips"].items()}
    assert len(set(fps.values())) == 4  # every clip's inputs differ
    e = m["clips"]["b.north"]
    assert e["inputs"]["camera.name"] == "north" and e["inputs"]["scenario.scenario"] == "wrong_way"
    assert e["inputs"]["camera.location"] == [-20.0, -24.0, 10.0] and e["inputs"]["frames"] is None
    cfg = m["configs"][e["config_fingerprint"]]
    assert cfg["augmentation.variants"] == 1 and cfg["backends.augmenter"] == "builtin" and "sdg" in cfg
    assert all(e["config_fingerprint"] == m["clips"]["a.east"]["config_fingerprint"] for e in m["clips"].values())


def test_unchanged_rerun_skips_everything(first):
    res = run(tiny(), first)
    assert res.ok and res.committed == [] and sorted(res.skipped) == CLIPS and res.redone == {}


def test_changed_scenario_or_camera_redoes_exactly_its_clips(first, tmp_path):
    out = tmp_path / "out"
    import shutil

    shutil.copytree(first, out)
    before = {c: e["sha256"] for c, e in manifest(out)["clips"].items()}
    job = tiny()
    job["scenarios"][1]["vehicles"] = 5
    res = run(job, out)
    assert res.ok and sorted(res.committed) == ["b.east", "b.north"] and sorted(res.skipped) == ["a.east", "a.north"]
    assert res.redone == {"b.east": "config changed (scenario.vehicles)",
                          "b.north": "config changed (scenario.vehicles)"}
    assert res.reasons() == ["2 clips re-done: config changed (scenario.vehicles)"]
    after = {c: e["sha256"] for c, e in manifest(out)["clips"].items()}
    assert {c for c in CLIPS if after[c] != before[c]} == {"b.east", "b.north"}
    job["cameras"][1]["location"] = [-20.0, -24.0, 12.0]  # another pose for camera north
    res = run(job, out)
    assert sorted(res.committed) == ["a.north", "b.north"]
    assert set(res.redone.values()) == {"config changed (camera.location)"}
    # what is committed equals a fresh run of the final config: nothing of the older inputs is left
    fresh = tmp_path / "fresh"
    run(job, fresh)
    for clip in CLIPS:
        a, b = shard(out, clip), shard(fresh, clip)
        for col in GROUND_TRUTH_COLUMNS + ("prompt", "look", "image"):
            assert a[col].equals(b[col]), (clip, col)


def test_more_variants_redo_every_clip_without_mixing(first, tmp_path, capsys):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(first, out)
    old_fps = {c: e["fingerprint"] for c, e in manifest(out)["clips"].items()}
    job = tiny(augmentation={"variants": 2})
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(job))
    assert main(["run", str(p), "--output", str(out), "--executor", "local", "--no-exports"]) == 0
    printed = capsys.readouterr().out
    assert "4 clips re-done: config changed (augmentation.variants)" in printed
    m = manifest(out)
    assert m["last_run"]["redone"] == {c: "config changed (augmentation.variants)" for c in CLIPS}
    for clip in CLIPS:
        assert m["clips"][clip]["fingerprint"] != old_fps[clip]
        t = shard(out, clip)
        assert t.num_rows == 2 * 3 and sorted(set(t["variant"].to_pylist())) == [0, 1]
    assert len(m["configs"]) == 1  # the older config is no longer referenced by any clip
    assert sorted(x.name for x in (out / "shards").iterdir()) == [f"part-{c}.parquet" for c in CLIPS]


def test_lost_file_is_redone(first, tmp_path):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "shards" / "part-a.east.parquet").unlink()
    res = run(tiny(), out)
    assert res.committed == ["a.east"] and res.redone == {"a.east": "files missing (shards/part-a.east.parquet)"}


def test_job_name_change_is_refused_and_overwrite_starts_over(first, tmp_path, capsys):
    import shutil

    out = tmp_path / "out"
    shutil.copytree(first, out)
    (out / "exports").mkdir()
    (out / "exports" / "stale.json").write_text("{}")
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(tiny(name="renamed")))
    before = (out / "manifest.json").read_bytes()
    assert main(["run", str(p), "--output", str(out), "--executor", "local", "--no-exports"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'tiny'" in err and "'renamed'" in err and "--overwrite" in err
    assert (out / "manifest.json").read_bytes() == before  # nothing touched
    assert main(["run", str(p), "--output", str(out), "--executor", "local", "--no-exports", "--overwrite"]) == 0
    m = manifest(out)
    assert m["job"] == "renamed" and sorted(m["clips"]) == CLIPS and m["last_run"]["skipped"] == []
    assert not (out / "exports").exists()  # the old job's exports went with it
    assert {r for c in CLIPS for r in shard(out, c)["job"].to_pylist()} == {"renamed"}
