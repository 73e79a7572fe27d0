"""The one data model shared by every stage: pydantic records + the one Arrow schema of the output rows.

A row of the dataset is one (clip, variant, frame). Pixel boxes use sdg.geometry's continuous convention
([x1, y1, x2, y2], image spans [0, W] x [0, H]).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict


class _Rec(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Box3D(_Rec):
    center: list[float]  # world metres
    size: list[float]  # full extents: length, width, height (m)
    rotation: list[float]  # roll, pitch, yaw (deg): the actor's own heading, not the viewing angle
    center_camera: list[float]  # OpenCV camera frame (x right, y down, z forward), metres


class ObjectAnnotation(_Rec):
    mark: int  # Set-of-Mark number, 1..N per clip, the same for an actor in every frame of the clip
    actor_id: int
    category: str  # sdg.tags.CATEGORIES
    type_id: str
    bbox_2d: list[float] | None  # tight box of the visible pixels (None when no pixel is visible)
    bbox_2d_amodal: list[float]  # projected 3D box, clipped to the image
    polygon: list[list[float]]  # outer contours of the visible mask, each [x1, y1, x2, y2, ...]
    bbox_3d: Box3D
    corners_2d: list[list[float]]  # the 8 projected 3D box corners (u, v), order of sdg.geometry.box_corners
    distance: float  # metres, camera centre -> box centre
    visibility: float  # visible pixels / pixels of the whole silhouette (in and out of the image)
    occlusion: float  # fraction of the in-image silhouette hidden by other things
    truncation: float  # fraction of the silhouette outside the image
    pixels: int  # visible pixel count
    speed: float  # m/s, from the trajectory
    state: str | None = None  # traffic lights
    size_source: str = "generator"
    survival: float | None = None  # after augmentation: 0..1 how well the object is still seen (None: not checked)


class EventRecord(_Rec):
    kind: str
    actor_ids: list[int]
    marks: list[int]
    t_start: float
    t_end: float
    active: bool  # does the event span this frame's timestamp


class QAPair(_Rec):
    question: str
    answer: str
    kind: str  # "count" | "existence" | "event" | "spatial" | ...
    choices: list[str] = []


# ---------------------------------------------------------------------------------------------- Arrow schema
_F32 = pa.float32()
_BOX3D = pa.struct(
    [
        ("center", pa.list_(_F32)),
        ("size", pa.list_(_F32)),
        ("rotation", pa.list_(_F32)),
        ("center_camera", pa.list_(_F32)),
    ]
)
OBJECT_TYPE = pa.struct(
    [
        ("mark", pa.int32()),
        ("actor_id", pa.int64()),
        ("category", pa.string()),
        ("type_id", pa.string()),
        ("bbox_2d", pa.list_(_F32)),
        ("bbox_2d_amodal", pa.list_(_F32)),
        ("polygon", pa.list_(pa.list_(_F32))),
        ("bbox_3d", _BOX3D),
        ("corners_2d", pa.list_(pa.list_(_F32))),
        ("distance", _F32),
        ("visibility", _F32),
        ("occlusion", _F32),
        ("truncation", _F32),
        ("pixels", pa.int32()),
        ("speed", _F32),
        ("state", pa.string()),
        ("size_source", pa.string()),
        ("survival", _F32),
    ]
)
EVENT_TYPE = pa.struct(
    [
        ("kind", pa.string()),
        ("actor_ids", pa.list_(pa.int64())),
        ("marks", pa.list_(pa.int32())),
        ("t_start", _F32),
        ("t_end", _F32),
        ("active", pa.bool_()),
    ]
)
QA_TYPE = pa.struct(
    [("question", pa.string()), ("answer", pa.string()), ("kind", pa.string()), ("choices", pa.list_(pa.string()))]
)

ROW_SCHEMA = pa.schema(
    [
        ("job", pa.string()),
        ("scenario_id", pa.string()),
        ("camera", pa.string()),
        ("clip_id", pa.string()),
        ("variant", pa.int32()),
        ("frame_index", pa.int32()),
        ("timestamp", pa.float64()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("image", pa.binary()),  # augmented frame, JPEG
        ("som_image", pa.binary()),  # Set-of-Mark overlay on the augmented frame, JPEG
        ("rgb_image", pa.binary()),  # the simulator's frame before augmentation, JPEG
        ("depth", pa.binary()),  # float32 metres (planar), sdg.codec array bytes
        ("semantic", pa.binary()),  # uint8 CARLA tags, PNG
        ("instance", pa.binary()),  # uint32 actor ids, sdg.codec array bytes
        ("normals", pa.binary()),  # camera-space normals, CARLA encoding (n+1)/2 as PNG (OpenCV camera axes)
        ("edge_image", pa.binary()),  # control frames, PNG
        ("flow", pa.binary()),  # float16 (H,W,2) forward optical flow to the next frame, pixels; NaN on the last
        ("objects", pa.list_(OBJECT_TYPE)),
        ("events", pa.list_(EVENT_TYPE)),
        ("qa", pa.list_(QA_TYPE)),
        ("prompt", pa.string()),
        ("look", pa.string()),  # JSON of the variant's variables (weather, lighting, road)
        ("seed", pa.int64()),
        ("intrinsics", pa.list_(pa.float64())),  # K row-major (9)
        ("world_to_camera", pa.list_(pa.float64())),  # 4x4 row-major, world -> OpenCV camera
        ("provenance", pa.string()),  # JSON: backends, versions, size sources, notes
    ]
)

GROUND_TRUTH_COLUMNS = (
    "job", "scenario_id", "camera", "clip_id", "variant", "frame_index", "timestamp", "width", "height",
    "depth", "semantic", "instance", "normals", "flow", "objects", "events", "qa", "seed", "intrinsics", "world_to_camera",
)


# ------------------------------------------------------------------------------------------- in-memory clips
@dataclass
class ClipAnnotations:
    """The ground truth of one clip, per frame (what the ground-truth stage adds to a clip's work item)."""

    marks: dict[int, int]  # actor_id -> mark 1..N, stable over the clip (only actors that get a mark)
    objects: list[list[ObjectAnnotation]]  # per frame of the clip, sorted by mark (unmarked last), then actor id
    events: list[list[EventRecord]]  # per frame: every scene event, `active` when the frame time is in its span


@dataclass
class SensorClip:
    """What a Simulator gives for one clip and camera: T frames of the five sensors, exact by construction.

    rgb (T,H,W,3) uint8 | depth (T,H,W) float32 planar metres (sky = geometry.SKY_DEPTH) | semantic (T,H,W) uint8
    CARLA tags | instance (T,H,W) uint32 actor id (0 = not an actor) | normals (T,H,W,3) float32 unit normals in
    the OpenCV camera frame (float16 in a work item after the simulate stage: they are stored as 8-bit).
    """

    rgb: np.ndarray
    depth: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    normals: np.ndarray
    times: np.ndarray  # (T,)
    frame_indices: np.ndarray  # (T,) indices into scene.times
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        t, h, w = self.depth.shape
        for name, arr, tail in (
            ("rgb", self.rgb, (3,)),
            ("semantic", self.semantic, ()),
            ("instance", self.instance, ()),
            ("normals", self.normals, (3,)),
        ):
            if arr.shape != (t, h, w) + tail:
                raise ValueError(f"SensorClip.{name} has shape {arr.shape}, expected {(t, h, w) + tail}")
