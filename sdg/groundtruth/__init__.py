"""Ground truth from a simulated clip: 2D/3D boxes, polygons, visibility, Set-of-Mark numbers, events."""
from sdg.groundtruth.annotate import ClipAnnotations, annotate_clip, assign_marks, clip_mark_seed, frame_events
from sdg.groundtruth.box_silhouette import box_silhouette
from sdg.groundtruth.events import detect_events, merge_events
from sdg.groundtruth.masks import index_instances, mask_polygons, rasterize_polygons
from sdg.groundtruth.projection import project_box
from sdg.groundtruth.visibility import visibility_metrics

__all__ = [
    "ClipAnnotations", "annotate_clip", "assign_marks", "clip_mark_seed", "frame_events", "box_silhouette",
    "detect_events", "merge_events", "index_instances", "mask_polygons", "rasterize_polygons", "project_box",
    "visibility_metrics",
]
