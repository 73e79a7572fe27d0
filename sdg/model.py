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
    # traffic lights: is the lit lamp seen from the camera (its face towards the camera, unoccluded, >= 2 px; after
    # augmentation also still showing its colour)? None for everything else
    state_visible: bool | None = None


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
    kind: str  # "count" | "existence" | "event" | "spatial" | "temporal" | "motion" | "causal" | ...
    choices: list[str] = []  # multiple choice: the option texts in A..D order (answer = the letter)
    template: str = ""  # question template id (answer balance and baselines are per template)
    topic: str = ""  # sub-key the answers are balanced within (e.g. the category of an existence question)
    level: str = "easy"  # "easy": one fact; "hard": two or more facts
    format: str = ""  # "yes_no" | "multiple_choice" | "short"
    rationale: str = ""  # short reasoning from the ground truth (chain-of-thought target)
    video: str = ""  # video questions: "som" (the clip's Set-of-Mark video) or "event:<event_id>"; "" for frames
    id: str = ""  # stable id: <clip>/<variant>/<frame position or "video">/<template>/<k>


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
        ("state_visible", pa.bool_()),
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
    [("question", pa.string()), ("answer", pa.string()), ("kind", pa.string()), ("choices", pa.list_(pa.string())),
     ("template", pa.string()), ("topic", pa.string()), ("level", pa.string()), ("format", pa.string()),
     ("rationale", pa.string()), ("video", pa.string()), ("id", pa.string())]
)

ROW_SCHEMA = pa.schema(
    [
        ("job", pa.string()),
        ("scenario_id", pa.string()),
        ("camera", pa.string()),
        ("clip_id", pa.string()),
        ("split", pa.string()),  # "train" | "validation" | "test": by scenario, never by frame or variant
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

# ------------------------------------------------------------------------------------------- video-level rows
# One row per (clip, variant) in videos/part-<clip>.parquet: variant -1 is the simulator's own video, 0.. the
# augmented variants. Times are seconds from the clip's first frame; frame positions count from 0.
TRACK_TYPE = pa.struct(
    [
        ("actor_id", pa.int64()),
        ("mark", pa.int32()),  # 0: no mark in this clip
        ("category", pa.string()),
        ("type_id", pa.string()),
        ("size", pa.list_(_F32)),  # length, width, height (m)
        ("x", pa.list_(_F32)),  # world box centre per clip frame (m)
        ("y", pa.list_(_F32)),
        ("z", pa.list_(_F32)),
        ("yaw", pa.list_(_F32)),  # heading per frame (deg, CARLA: clockwise seen from above)
        ("speed", pa.list_(_F32)),  # m/s per frame
        ("visible", pa.list_(pa.bool_())),  # askable in this variant's frame (see sdg.som.tracks.visible)
        ("states", pa.list_(pa.string())),  # traffic lights: state per frame; else empty
        ("state_visible", pa.list_(pa.bool_())),  # traffic lights: lit lamp seen per frame; else empty
    ]
)
VIDEO_EVENT_TYPE = pa.struct(
    [
        ("event_id", pa.string()),  # "collision", "red_light_1", "noncollision_0", ... unique in the clip
        ("kind", pa.string()),  # scene kinds + "noncollision" (a close pair that did not collide)
        ("actor_ids", pa.list_(pa.int64())),
        ("marks", pa.list_(pa.int32())),
        ("t_start", _F32),  # seconds from the clip's first frame
        ("t_end", _F32),
        ("details", pa.string()),  # JSON
    ]
)
PHASE_TYPE = pa.struct(
    [
        ("event_id", pa.string()),
        ("phase", pa.string()),  # prerecognition | recognition | judgement | action | avoidance
        ("label", pa.int32()),  # 0..4 (WTS)
        ("start_time", _F32),
        ("end_time", _F32),
        ("caption_vehicle", pa.string()),
        ("caption_pedestrian", pa.string()),
        ("facts", pa.string()),  # JSON: the ground-truth values the captions state
    ]
)
EVENT_VIDEO_TYPE = pa.struct([("event_id", pa.string()), ("som_video", pa.binary())])

VIDEO_SCHEMA = pa.schema(
    [
        ("job", pa.string()),
        ("scenario_id", pa.string()),
        ("camera", pa.string()),
        ("clip_id", pa.string()),
        ("split", pa.string()),
        ("variant", pa.int32()),  # -1: the simulator's video; 0..: augmented variants
        ("look", pa.string()),  # JSON of the variant's look ("" for the simulator's video)
        ("fps", pa.float64()),
        ("n_frames", pa.int32()),
        ("frame_indices", pa.list_(pa.int32())),
        ("timestamps", pa.list_(pa.float64())),  # scene times of the frames
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("intrinsics", pa.list_(pa.float64())),
        ("world_to_camera", pa.list_(pa.float64())),
        ("camera_location", pa.list_(pa.float64())),  # world metres
        ("junction", pa.list_(pa.list_(_F32))),  # junction area polygons, each [x1, y1, x2, y2, ...] world metres
        ("tracks", pa.list_(TRACK_TYPE)),
        ("events", pa.list_(VIDEO_EVENT_TYPE)),
        ("phases", pa.list_(PHASE_TYPE)),
        ("qa", pa.list_(QA_TYPE)),
        ("som_video", pa.binary()),  # mp4: every mark of the clip
        ("event_videos", pa.list_(EVENT_VIDEO_TYPE)),  # mp4 per event: only the event's actors marked
        ("provenance", pa.string()),
    ]
)

GROUND_TRUTH_COLUMNS = (
    "job", "scenario_id", "camera", "clip_id", "split", "variant", "frame_index", "timestamp", "width", "height",
    "depth", "semantic", "instance", "normals", "flow", "objects", "events", "qa", "seed", "intrinsics",
    "world_to_camera",
)


# ------------------------------------------------------------------------------------------- in-memory clips
@dataclass
class ActorTrack:
    """One actor over the frames of a clip, from the scene (also while it is out of view)."""

    actor_id: int
    category: str
    type_id: str
    size: np.ndarray  # (3,) length, width, height (m)
    center: np.ndarray  # (T, 3) world box centre per clip frame (m)
    yaw: np.ndarray  # (T,) heading (deg)
    speed: np.ndarray  # (T,) m/s
    states: list[str] | None = None  # traffic lights: state per clip frame


@dataclass
class ClipAnnotations:
    """The ground truth of one clip, per frame (what the ground-truth stage adds to a clip's work item)."""

    marks: dict[int, int]  # actor_id -> mark 1..N, stable over the clip (only actors that get a mark)
    objects: list[list[ObjectAnnotation]]  # per frame of the clip, sorted by mark (unmarked last), then actor id
    events: list[list[EventRecord]]  # per frame: every scene event, `active` when the frame time is in its span
    # every marked actor and every event actor over the clip, by actor id
    tracks: dict[int, ActorTrack] = field(default_factory=dict)
    # the scene's events with their details: {kind, actor_ids, t_start, t_end, details} (scene seconds)
    scene_events: list[dict] = field(default_factory=list)


@dataclass
class SensorClip:
    """What a Simulator gives for one clip and camera: T frames of the five sensors, exact by construction.

    rgb (T,H,W,3) uint8 | depth (T,H,W) float32 planar metres (sky = geometry.SKY_DEPTH) | semantic (T,H,W) uint8
    CARLA tags | instance (T,H,W) uint32 actor id (0 = not an actor) | normals (T,H,W,3) float32 unit normals in
    the OpenCV camera frame (after the simulate stage, a work item holds them as uint8 in CARLA's encoding
    round((n+1)/2*255), which is how the output stores them).
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
