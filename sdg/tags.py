"""CARLA (>= 0.9.14) semantic tags, Cityscapes-aligned, and CARLA's CityScapesPalette colours."""
from __future__ import annotations

import numpy as np

TAG_NAMES = [
    "unlabeled", "road", "sidewalk", "building", "wall", "fence", "pole", "traffic_light", "traffic_sign",
    "vegetation", "terrain", "sky", "pedestrian", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle", "static", "dynamic", "other", "water", "road_line", "ground", "bridge", "rail_track", "guard_rail",
]
TAG = {name: i for i, name in enumerate(TAG_NAMES)}

# CARLA's CityScapesPalette (LibCarla/source/carla/image/CityScapesPalette.h), index = tag.
PALETTE = np.array(
    [
        (0, 0, 0), (128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153),
        (153, 153, 153), (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180),
        (220, 20, 60), (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230),
        (119, 11, 32), (110, 190, 160), (170, 120, 50), (55, 90, 80), (45, 60, 150), (157, 234, 50),
        (81, 0, 81), (150, 100, 100), (230, 150, 140), (180, 165, 180),
    ],
    dtype=np.uint8,
)

# Object categories we annotate and the semantic tag each renders with.
CATEGORY_TAG = {
    "car": TAG["car"],
    "van": TAG["car"],
    "truck": TAG["truck"],
    "bus": TAG["bus"],
    "motorcycle": TAG["motorcycle"],
    "bicycle": TAG["bicycle"],
    "pedestrian": TAG["pedestrian"],
    "traffic_light": TAG["traffic_light"],
    "traffic_sign": TAG["traffic_sign"],
}
CATEGORIES = list(CATEGORY_TAG)
VEHICLE_CATEGORIES = ("car", "van", "truck", "bus", "motorcycle", "bicycle")
