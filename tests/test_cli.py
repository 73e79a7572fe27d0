"""The command line as a user runs it: log-info, validate, inspect, scenarios."""
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]
LOG = REPO / "configs/recordings/intersection_collision.log"


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "sdg.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env=env, timeout=300)


def test_log_info_json_keys_and_values():
    r = _cli("log-info", str(LOG), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert {"map", "frames", "duration", "actors", "collisions"} <= set(info)
    assert info["map"] == "intersection" and info["frames"] == 160
    assert all({"id", "type_id", "kind"} <= set(a) for a in info["actors"])
    assert len(info["actors"]) == 26
    assert [(c["actor1"], c["actor2"]) for c in info["collisions"]][:1] == [(1, 2)]
    assert all({"frame", "actor1", "actor2"} <= set(c) for c in info["collisions"])


def test_log_info_truncated_names_file_and_offset(tmp_path):
    cut = tmp_path / "cut.log"
    cut.write_bytes(LOG.read_bytes()[:5000])
    r = _cli("log-info", str(cut))
    assert r.returncode == 2 and "cut.log" in r.stderr and "offset" in r.stderr and "Traceback" not in r.stderr


def test_log_info_not_a_recording(tmp_path):
    bad = tmp_path / "x.log"
    bad.write_bytes(b"hello world, definitely not CARLA")
    r = _cli("log-info", str(bad))
    assert r.returncode == 2 and "x.log" in r.stderr


def test_validate_demo_config_lists_clips():
    r = _cli("validate", "configs/demo.yaml")
    assert r.returncode == 0, r.stderr
    assert "collision-01.corner" in r.stdout and "wrongway-01.corner" in r.stdout and "960x540" in r.stdout


def test_validate_camera_yaml_with_fov_zero_names_file_and_field(tmp_path):
    cam = tmp_path / "cam.yaml"
    cam.write_text("- sensor: rgb\n  attributes: {image_size_x: 64, image_size_y: 32, fov: 0}\n"
                   "  transform: {location: {x: 0, y: 0, z: 500}, rotation: {roll: 0, pitch: -10, yaw: 0}}\n")
    job = tmp_path / "job.yaml"
    job.write_text(f"name: j\ncameras: [{{name: c, yaml: {cam}}}]\nscenarios: [{{id: s}}]\n")
    r = _cli("validate", str(job))
    assert r.returncode == 2 and "cam.yaml" in r.stderr and "fov" in r.stderr


def test_scenarios_lists_kinds():
    r = _cli("scenarios")
    assert r.returncode == 0
    for kind in ("collision", "wrong_way", "near_miss", "jaywalking", "rush_hour"):
        assert kind in r.stdout


def test_inspect_reports_counts_and_writes_sheets(tmp_path):
    from conftest import small_job

    from sdg.config import parse_config
    from sdg.run import run_job

    out = tmp_path / "o"
    assert run_job(parse_config(small_job()), out, executor="local", exports=False).ok
    r = _cli("inspect", str(out))
    assert r.returncode == 0, r.stderr
    assert "12 rows" in r.stdout and "categories:" in r.stdout and "car=" in r.stdout
    for name in ("contact_sheet", "modalities", "looks", "builtin_looks"):
        img = cv2.imread(str(out / "inspect" / f"{name}.png"))
        assert img is not None and img.shape[0] > 100 and img.std() > 5
    html = out / "inspect" / "report.html"  # the HTML report (tests/test_report.py checks what is in it)
    assert f"wrote {html}" in r.stdout and "<section id=\"clips\">" in html.read_text()


def test_inspect_of_a_non_output_folder(tmp_path):
    r = _cli("inspect", str(tmp_path))
    assert r.returncode == 2 and "manifest.json" in r.stderr


def test_inspect_of_a_corrupt_manifest_names_the_file(tmp_path):
    (tmp_path / "manifest.json").write_text('{"clips": ')
    r = _cli("inspect", str(tmp_path))
    assert r.returncode == 2 and "manifest.json" in r.stderr and "corrupt" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "inspect").exists()
