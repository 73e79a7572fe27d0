"""Actor dimensions and categories for CARLA blueprints.

The recorder's EventAdd has no dimensions. In order of preference an actor's box comes from
  "log"     its BoundingBox packet (recorded with additional_data=True): centimetres, extent = HALF size, origin =
            box centre in the actor's local frame;
  "table"   sdg/data/carla_0.9.16_actor_sizes.json (measured on a CARLA 0.9.16 server, see sdg/data/ATTRIBUTION.md);
  "default" a per-class default chosen from the blueprint id.
Sizes are full extents (length along local x, width along y, height along z) in metres. Box offsets follow CARLA's
origins: a vehicle's origin is on the ground under its centre (offset (0, 0, h/2)); a walker's origin is the centre
of its capsule (offset (0, 0, 0)); traffic lights and signs stand on the ground (offset (0, 0, h/2)).
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np

from sdg.tags import CATEGORIES

_TABLE_CLASS_TO_CATEGORY = {
    "car": "car", "van": "van", "truck": "truck", "bus": "bus", "motorcycle": "motorcycle", "bicycle": "bicycle",
    "walker": "pedestrian",
}

# Per-class defaults (length, width, height) metres, for blueprints missing from the table.
DEFAULT_SIZES = {
    "car": (4.6, 1.9, 1.5),
    "van": (5.2, 2.0, 2.2),
    "truck": (7.5, 2.6, 3.2),
    "bus": (11.0, 2.6, 3.3),
    "motorcycle": (2.1, 0.8, 1.5),
    "bicycle": (1.7, 0.65, 1.6),
    "pedestrian": (0.45, 0.45, 1.8),
    "traffic_light": (0.6, 0.6, 5.0),
    "traffic_sign": (0.2, 0.8, 2.4),
    "other": (1.0, 1.0, 1.0),
}

# Name fragments of vehicle blueprints by class (checked in this order; the rest are cars).
_NAME_HINTS = (
    ("bicycle", ("bicycle", "bike", "crossbike", "century", "omafiets")),
    ("motorcycle", ("motorcycle", "motorbike", "vespa", "yamaha", "kawasaki", "harley", "ninja", "yzf", "scooter")),
    ("bus", ("bus", "fusorosa")),
    ("truck", ("truck", "hgv", "firetruck", "carlacola", "lorry", "tractor", "trailer")),
    ("van", ("van", "sprinter", "ambulance", "t2", "transit")),
)



@lru_cache(maxsize=1)
def size_table() -> dict[str, dict]:
    """The blueprint size table {type_id: {class, length, width, height}} (metres)."""
    text = resources.files("sdg").joinpath("data/carla_0.9.16_actor_sizes.json").read_text()
    return json.loads(text)


def _vehicle_class(type_id: str) -> str:
    entry = size_table().get(type_id)
    if entry is not None:
        return _TABLE_CLASS_TO_CATEGORY[entry["class"]]
    name = type_id.lower()
    for cls, hints in _NAME_HINTS:
        if any(h in name for h in hints):
            return cls
    return "car"


def _kind_name(kind) -> str:
    from sdg.carla.recorder import ACTOR_KINDS

    if isinstance(kind, (int, np.integer)):
        return ACTOR_KINDS.get(int(kind), "other")
    return str(kind or "")


def category_of(type_id: str, kind: str | int | None = None) -> str | None:
    """The sdg.tags category of a CARLA actor, or None for actors we do not annotate (sensors, spectator, props).
    `kind` is the recorder's actor kind (name or EventAdd code); when missing it is inferred from the id prefix."""
    k = _kind_name(kind)
    t = (type_id or "").lower()
    if k == "walker" or t.startswith("walker."):
        return "pedestrian" if not t.startswith("walker.controller") else None
    if k == "traffic_light" or t.startswith("traffic.traffic_light"):
        return "traffic_light"
    if k == "traffic_sign" or (t.startswith("traffic.") and not t.startswith("traffic.unknown")):
        return "traffic_sign"
    if k == "vehicle" or t.startswith("vehicle."):
        cat = _vehicle_class(type_id)
        assert cat in CATEGORIES
        return cat
    return None


def _offset_for(category: str | None, size: np.ndarray) -> np.ndarray:
    if category == "pedestrian":
        return np.zeros(3)
    return np.array([0.0, 0.0, size[2] / 2.0])


def actor_size(type_id: str, bbox_packet=None, kind: str | int | None = None
               ) -> tuple[np.ndarray, np.ndarray, str]:
    """(size (3,) full extents metres, box_offset (3,) metres in the actor frame, source "log"|"table"|"default").

    `bbox_packet`: the actor's BoundingBox record as 6 numbers (origin x, y, z, extent x, y, z) in CENTIMETRES
    (a row of recorder.BBOX_DTYPE or Recording.bounding_boxes[id]). A box with a zero or negative extent (CARLA
    reports zero extents for some two-wheelers) is ignored in favour of the table."""
    cat = category_of(type_id, kind)
    if bbox_packet is not None:
        b = bbox_packet
        if getattr(b, "dtype", None) is not None and b.dtype.names:
            b = [b[f] for f in ("ox", "oy", "oz", "ex", "ey", "ez")]
        b = np.asarray(b, np.float64).reshape(-1)
        if b.shape != (6,):
            raise ValueError(f"actor_size({type_id!r}): bbox_packet needs 6 values (origin xyz, extent xyz in cm), "
                             f"got {b.shape[0]}")
        if np.all(np.isfinite(b)) and np.all(b[3:] > 0.5):  # > 5 mm half extent
            return b[3:] * 2.0 / 100.0, b[:3] / 100.0, "log"
    entry = size_table().get(type_id)
    if entry is not None:
        size = np.array([entry["length"], entry["width"], entry["height"]], np.float64)
        return size, _offset_for(cat, size), "table"
    size = np.array(DEFAULT_SIZES.get(cat or "other", DEFAULT_SIZES["other"]), np.float64)
    return size, _offset_for(cat, size), "default"
