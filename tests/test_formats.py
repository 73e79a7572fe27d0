"""Public camera YAML (centimetres -> metres) and scenario JSON: round trips and every bad-input case."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import yaml

from sdg.config import CameraConfig
from sdg.geometry import Camera
from sdg.scenario.camera_yaml import CameraYamlError, camera_from_config, camera_to_yaml, load_camera_yaml
from sdg.scenario.scenario_json import ScenarioJsonError, ScenarioWindow, load_scenario_json

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["rgb", "depth", "semantic_segmentation", "instance_segmentation", "normals"]


def sensor(kind="rgb", w=1280, h=720, fov=75.0, loc=(1250.0, -340.0, 860.0), rot=(0.0, -22.5, 135.0)):
    return {"sensor": kind, "attributes": {"image_size_x": w, "image_size_y": h, "fov": fov},
            "transform": {"location": dict(zip("xyz", loc)), "rotation": dict(zip(("roll", "pitch", "yaw"), rot))}}


def write(tmp_path, data, name="cam.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


# ------------------------------------------------------------------------------------------------- camera YAML
@pytest.mark.parametrize("form", ["list", "sensors"])
def test_camera_yaml_forms_convert_centimetres_to_metres(tmp_path, form):
    items = [sensor(k) for k in KINDS]
    p = write(tmp_path, items if form == "list" else {"sensors": items})
    cam = load_camera_yaml(p, name="pole")
    assert cam.name == "pole"
    assert (cam.width, cam.height, cam.fov) == (1280, 720, 75.0)
    assert cam.location == pytest.approx((12.5, -3.4, 8.6), abs=1e-12)
    assert cam.rotation == (0.0, -22.5, 135.0)
    assert load_camera_yaml(p).name == "cam"  # default: file stem


def test_camera_yaml_round_trip(tmp_path):
    cam = Camera("rt", 640, 360, 62.5, (-13.25, 7.125, 9.5), (0.5, -26.0, 45.0))
    p = write(tmp_path, camera_to_yaml(cam))
    back = load_camera_yaml(p, name="rt")
    assert back == cam
    data = yaml.safe_load(p.read_text())
    assert [s["sensor"] for s in data["sensors"]] == KINDS
    assert data["sensors"][0]["transform"]["location"] == {"x": -1325.0, "y": 712.5, "z": 950.0}
    # the projection of a world point is the same through the round trip
    pt = np.array([[3.0, 4.0, 0.5]])
    np.testing.assert_allclose(back.project(pt)[0], cam.project(pt)[0], atol=1e-9)


def test_shipped_camera_files_load():
    from sdg.scenario.builtin import DEFAULT_CAMERA

    files = sorted((ROOT / "configs" / "cameras").glob("*.yaml"))
    assert len(files) >= 3
    cams = {f.stem: load_camera_yaml(f) for f in files}
    corner = cams["intersection_corner"]
    assert (corner.width, corner.height, corner.fov) == (960, 540, 90.0)
    assert corner.location == DEFAULT_CAMERA.location and corner.rotation == DEFAULT_CAMERA.rotation
    assert 8.0 <= corner.location[2] <= 10.0
    # every shipped camera sees the junction centre
    for cam in cams.values():
        uv, z = cam.project(np.array([[0.0, 0.0, 0.0]]))
        assert z[0] > 0 and 0 <= uv[0, 0] <= cam.width and 0 <= uv[0, 1] <= cam.height, cam.name


def test_camera_from_config(tmp_path):
    p = write(tmp_path, [sensor()])
    cam = camera_from_config(CameraConfig(name="job_cam", yaml=p))
    assert cam.name == "job_cam" and cam.location == pytest.approx((12.5, -3.4, 8.6))
    inline = camera_from_config(CameraConfig(name="inline", width=320, height=240, fov=60, location=(1, 2, 3),
                                             rotation=(0, -10, 90)))
    assert inline == Camera("inline", 320, 240, 60.0, (1.0, 2.0, 3.0), (0.0, -10.0, 90.0))


def _expect(tmp_path, data, *needles):
    p = write(tmp_path, data)
    with pytest.raises(CameraYamlError) as e:
        load_camera_yaml(p)
    msg = str(e.value)
    assert str(p) in msg, msg
    for n in needles:
        assert n in msg, msg
    return msg


def test_camera_yaml_missing_keys(tmp_path):
    s = sensor()
    del s["attributes"]["fov"]
    _expect(tmp_path, [s], "sensors[0].attributes.fov", "missing")
    s = sensor()
    del s["transform"]["location"]["y"]
    _expect(tmp_path, [s], "sensors[0].transform.location.y", "missing")
    s = sensor()
    del s["transform"]
    _expect(tmp_path, [sensor(), s], "sensors[1].transform", "missing")
    s = sensor()
    del s["sensor"]
    _expect(tmp_path, [s], "sensors[0].sensor", "missing")
    _expect(tmp_path, {"cameras": [sensor()]}, "sensors")


@pytest.mark.parametrize("fov", [0, 180, 181.5, -10])
def test_camera_yaml_bad_fov(tmp_path, fov):
    _expect(tmp_path, [sensor(fov=fov)], "sensors[0].attributes.fov", "(0, 180)")


@pytest.mark.parametrize("field,value", [("fov", "wide"), ("image_size_x", "1280px"), ("image_size_y", True),
                                         ("image_size_x", 0), ("image_size_x", 12.5)])
def test_camera_yaml_bad_numbers(tmp_path, field, value):
    s = sensor()
    s["attributes"][field] = value
    _expect(tmp_path, [s], f"sensors[0].attributes.{field}")


def test_camera_yaml_non_numeric_transform(tmp_path):
    s = sensor()
    s["transform"]["rotation"]["yaw"] = "north"
    _expect(tmp_path, [s], "sensors[0].transform.rotation.yaw", "number")


def test_camera_yaml_sensors_disagree(tmp_path):
    _expect(tmp_path, [sensor("rgb"), sensor("depth", loc=(1250.0, -340.0, 861.0))], "sensors[1]", "pose")
    _expect(tmp_path, [sensor("rgb"), sensor("depth", rot=(0.0, -22.5, 136.0))], "sensors[1]", "pose")
    _expect(tmp_path, [sensor("rgb"), sensor("semantic_segmentation", w=640)], "sensors[1]", "size")
    _expect(tmp_path, [sensor("rgb"), sensor("normals", fov=90.0)], "sensors[1]", "fov")


def test_camera_yaml_unknown_sensor_and_shapes(tmp_path):
    _expect(tmp_path, [sensor("lidar")], "sensors[0].sensor", "lidar")
    _expect(tmp_path, [], "non-empty")
    _expect(tmp_path, {"sensors": "rgb"}, "list")
    _expect(tmp_path, ["rgb"], "sensors[0]", "mapping")


def test_camera_yaml_malformed_reports_line(tmp_path):
    text = "sensors:\n  - sensor: rgb\n    attributes: {image_size_x: 10, image_size_y: [\n"
    msg = _expect(tmp_path, text, "line")
    assert "line 4" in msg or "line 3" in msg, msg


def test_camera_yaml_missing_file(tmp_path):
    with pytest.raises(CameraYamlError, match="no such camera file"):
        load_camera_yaml(tmp_path / "nope.yaml")


# ------------------------------------------------------------------------------------------------- scenario JSON
def write_json(tmp_path, data, name="scenario.json") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


def test_scenario_json_new_format(tmp_path):
    p = write_json(tmp_path, {"source_scenario": "Town10HD_collision_03", "start_time": 12.5, "duration": 5,
                              "collision_actor_ids": [245, 246]})
    w = load_scenario_json(p)
    assert isinstance(w, ScenarioWindow)
    assert (w.source_scenario, w.start_time, w.duration, w.collision_actor_ids) == ("Town10HD_collision_03", 12.5,
                                                                                    5.0, [245, 246])
    assert w.limit_distance == 100.0 and w.area_threshold == 100.0 and w.extra == {}


def test_scenario_json_old_workflow_keys(tmp_path):
    p = write_json(tmp_path, {"camera_config": "cams/corner.yaml", "recorder_filename": "/data/rec.log",
                              "output_dir": "out", "generate_videos": True, "limit_distance": 80,
                              "area_threshold": 150.5, "start_time": 0, "duration": 3.0})
    w = load_scenario_json(p)
    assert w.recorder_filename == "/data/rec.log" and w.generate_videos is True
    assert w.limit_distance == 80.0 and w.area_threshold == 150.5 and w.collision_actor_ids == []


def test_scenario_json_unknown_keys_kept_with_warning(tmp_path, caplog):
    p = write_json(tmp_path, {"duration": 2.0, "weather": "rain", "notes": {"a": 1}})
    with caplog.at_level(logging.WARNING, logger="sdg.scenario.scenario_json"):
        w = load_scenario_json(p)
    assert w.extra == {"weather": "rain", "notes": {"a": 1}}
    assert any("weather" in r.getMessage() and str(p) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("key,value", [("start_time", "12.5"), ("duration", [5]), ("collision_actor_ids", [1.5]),
                                       ("collision_actor_ids", "245,246"), ("generate_videos", "yes"),
                                       ("generate_videos", 1), ("source_scenario", 7), ("start_time", -1.0),
                                       ("duration", 0), ("limit_distance", True)])
def test_scenario_json_wrong_types(tmp_path, key, value):
    p = write_json(tmp_path, {key: value})
    with pytest.raises(ScenarioJsonError) as e:
        load_scenario_json(p)
    assert str(p) in str(e.value) and key in str(e.value)


def test_scenario_json_malformed_and_not_object(tmp_path):
    p = write_json(tmp_path, '{\n  "duration": 3,\n  "start_time": oops\n}')
    with pytest.raises(ScenarioJsonError, match="line 3"):
        load_scenario_json(p)
    p = write_json(tmp_path, "[1, 2]", "list.json")
    with pytest.raises(ScenarioJsonError, match="must be an object"):
        load_scenario_json(p)
    with pytest.raises(ScenarioJsonError, match="no such scenario JSON"):
        load_scenario_json(tmp_path / "missing.json")
