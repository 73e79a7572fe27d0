"""The public camera YAML format (as in the CARLA/Cosmos example workflows) -> sdg.geometry.Camera.

A file is a list of sensors, or a mapping with a `sensors:` list; each sensor is
    {sensor: rgb | depth | semantic_segmentation | instance_segmentation | normals,
     attributes: {image_size_x, image_size_y, fov},
     transform: {location: {x, y, z} in CENTIMETRES, rotation: {roll, pitch, yaw} in degrees}}
All sensors of a file describe one camera rig: they must share pose, image size and fov. The Camera is in metres.
Errors (CameraYamlError, a ValueError) name the file, the sensor index and the field.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import yaml

from sdg.config import CameraConfig
from sdg.geometry import Camera
from sdg.yamlio import read_yaml

SENSOR_TYPES = ("rgb", "depth", "semantic_segmentation", "instance_segmentation", "normals")
CM = 0.01  # metres per centimetre


class CameraYamlError(ValueError):
    """A camera YAML that cannot be used; the message names the file and the field."""


def _num(value, where: str, path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CameraYamlError(f"{path}: {where} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise CameraYamlError(f"{path}: {where} must be finite, got {value!r}")
    return v


def _get(d, key: str, where: str, path):
    if not isinstance(d, dict):
        raise CameraYamlError(f"{path}: {where} must be a mapping, got {type(d).__name__}")
    if key not in d:
        raise CameraYamlError(f"{path}: {where}.{key} is missing")
    return d[key]


def _sensor_rig(s, i: int, path) -> tuple[str, tuple, tuple, tuple]:
    where = f"sensors[{i}]"
    kind = _get(s, "sensor", where, path)
    if kind not in SENSOR_TYPES:
        raise CameraYamlError(f"{path}: {where}.sensor is {kind!r}; expected one of {list(SENSOR_TYPES)}")
    att = _get(s, "attributes", where, path)
    w = _num(_get(att, "image_size_x", f"{where}.attributes", path), f"{where}.attributes.image_size_x", path)
    h = _num(_get(att, "image_size_y", f"{where}.attributes", path), f"{where}.attributes.image_size_y", path)
    fov = _num(_get(att, "fov", f"{where}.attributes", path), f"{where}.attributes.fov", path)
    for name, v in (("image_size_x", w), ("image_size_y", h)):
        if v <= 0 or v != int(v):
            raise CameraYamlError(f"{path}: {where}.attributes.{name} must be a positive integer, got {v:g}")
    if not 0.0 < fov < 180.0:
        raise CameraYamlError(f"{path}: {where}.attributes.fov must be in (0, 180) degrees, got {fov:g}")
    tr = _get(s, "transform", where, path)
    loc = _get(tr, "location", f"{where}.transform", path)
    rot = _get(tr, "rotation", f"{where}.transform", path)
    xyz = tuple(_num(_get(loc, k, f"{where}.transform.location", path), f"{where}.transform.location.{k}", path)
                for k in ("x", "y", "z"))
    rpy = tuple(_num(_get(rot, k, f"{where}.transform.rotation", path), f"{where}.transform.rotation.{k}", path)
                for k in ("roll", "pitch", "yaw"))
    return kind, (int(w), int(h), fov), xyz, rpy


def parse_camera_yaml(data, name: str, source: str = "<camera yaml>") -> Camera:
    """Camera from already-parsed YAML data (list or {sensors: [...]}); `source` names it in errors."""
    if isinstance(data, dict):
        if "sensors" not in data:
            raise CameraYamlError(f"{source}: expected a list of sensors or a mapping with 'sensors:', "
                                  f"got keys {sorted(map(str, data))}")
        sensors = data["sensors"]
    else:
        sensors = data
    if not isinstance(sensors, list) or not sensors:
        raise CameraYamlError(f"{source}: 'sensors' must be a non-empty list of sensors, got "
                              f"{type(sensors).__name__ if sensors is not None else 'nothing'}")
    rigs = [_sensor_rig(s, i, source) for i, s in enumerate(sensors)]
    kind0, img0, xyz0, rpy0 = rigs[0]
    for i, (kind, img, xyz, rpy) in enumerate(rigs[1:], start=1):
        if img != img0:
            raise CameraYamlError(f"{source}: sensors[{i}] ({kind}) has image size/fov {img[0]}x{img[1]} fov {img[2]:g}"
                                  f" but sensors[0] ({kind0}) has {img0[0]}x{img0[1]} fov {img0[2]:g}; all sensors "
                                  f"of a camera must agree")
        if any(abs(a - b) > 1e-6 for a, b in zip(xyz + rpy, xyz0 + rpy0)):
            raise CameraYamlError(f"{source}: sensors[{i}] ({kind}) transform {xyz}/{rpy} differs from sensors[0] "
                                  f"({kind0}) {xyz0}/{rpy0}; all sensors of a camera must share one pose")
    return Camera(name=name, width=img0[0], height=img0[1], fov=img0[2],
                  location=tuple(v * CM for v in xyz0), rotation=rpy0)


def load_camera_yaml(path: str | os.PathLike, name: str | None = None) -> Camera:
    """Read a camera YAML (centimetres) into a Camera (metres). `name` defaults to the file's stem."""
    p = Path(path)
    data = read_yaml(p, CameraYamlError, "camera file")
    return parse_camera_yaml(data, name or p.stem, str(p))


def camera_to_yaml(cam: Camera, sensors=SENSOR_TYPES) -> str:
    """The public YAML (mapping form with `sensors:`) of a camera, all listed sensors sharing its pose."""
    loc = {k: round(v / CM, 6) for k, v in zip("xyz", cam.location)}
    rot = {k: float(v) for k, v in zip(("roll", "pitch", "yaw"), cam.rotation)}
    items = [{"sensor": s, "attributes": {"image_size_x": int(cam.width), "image_size_y": int(cam.height),
                                          "fov": float(cam.fov)},
              "transform": {"location": loc, "rotation": rot}} for s in sensors]
    return yaml.safe_dump({"sensors": items}, sort_keys=False)


def camera_from_config(cfg: CameraConfig) -> Camera:
    """A job config camera: its YAML file when given (named cfg.name), else the inline values (metres)."""
    if cfg.yaml is not None:
        return load_camera_yaml(cfg.yaml, name=cfg.name)
    return Camera(name=cfg.name, width=cfg.width, height=cfg.height, fov=cfg.fov,
                  location=tuple(float(v) for v in cfg.location), rotation=tuple(float(v) for v in cfg.rotation))
