"""COCO detection/segmentation export of dataset rows, plus the helpers every file export shares (image naming,
image writing, atomic writes).

Layout of an export folder `out_dir` (usually out/<job>/exports/):
  images/<stem>.jpg        the augmented frame of each row (`image` column); <stem>_som.jpg its Set-of-Mark overlay
  coco.json                images[].file_name is relative to out_dir ("images/<stem>.jpg")
Rows are dicts with the sdg.model.ROW_SCHEMA columns (`table.to_pylist()`). Boxes are in the continuous pixel
convention of sdg.geometry; COCO bbox = [x, y, w, h] of the tight visible box; area = the visible pixel count
(`pixels`, the mask area COCO expects); segmentation = the visible mask's outer polygons. Category ids are
1 + the index in sdg.tags.CATEGORIES (stable across runs and jobs).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from sdg.export.files import atomic_write_bytes, atomic_write_text  # noqa: F401 (re-exported)
from sdg.tags import CATEGORIES

_SUPERCATEGORY = {
    "car": "vehicle", "van": "vehicle", "truck": "vehicle", "bus": "vehicle", "motorcycle": "vehicle",
    "bicycle": "vehicle", "pedestrian": "person", "traffic_light": "traffic_control",
    "traffic_sign": "traffic_control",
}
_JPEG_QUALITY = 95


# ----------------------------------------------------------------------------------------------- shared helpers
class RowError(ValueError):
    """A dataset row that cannot be exported; the message names the row and the column."""


def row_label(row: dict, index: int) -> str:
    return f"row {index} (clip {row.get('clip_id')!r}, variant {row.get('variant')}, frame {row.get('frame_index')})"


def require(row: dict, index: int, *columns: str) -> None:
    for c in columns:
        if row.get(c) is None:
            raise RowError(f"{row_label(row, index)} has no value in column {c!r}; export needs the "
                           f"ROW_SCHEMA columns (pass table.to_pylist() of the dataset's shards)")


class ImageNamer:
    """Stems `<clip_id>_v<variant>_f<frame>` made filesystem-safe; if two different rows would share a stem (clip
    ids reused across scenarios / cameras), the later one gets a short hash of its full key appended."""

    def __init__(self) -> None:
        self._owner: dict[str, tuple] = {}

    def stem(self, row: dict) -> str:
        key = (row.get("job"), row.get("scenario_id"), row.get("camera"), row.get("clip_id"), row.get("variant"),
               row.get("frame_index"))
        clip = re.sub(r"[^A-Za-z0-9._-]+", "-", str(row.get("clip_id"))).strip(".-") or "clip"
        stem = f"{clip}_v{int(row.get('variant') or 0):02d}_f{int(row.get('frame_index') or 0):06d}"
        owner = self._owner.setdefault(stem, key)
        if owner != key:
            stem = f"{stem}_{hashlib.sha256(repr(key).encode()).hexdigest()[:8]}"
            self._owner.setdefault(stem, key)
        return stem


def write_jpeg(data: bytes, path: Path, what: str) -> None:
    """Write encoded image bytes as a JPEG file: JPEG bytes as they are, PNG (or anything OpenCV decodes)
    re-encoded. An identical existing file is left alone (several exports share images/)."""
    if not data:
        raise RowError(f"{what}: the image bytes are empty")
    if data[:3] != b"\xff\xd8\xff":
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise RowError(f"{what}: the bytes are neither JPEG nor an image OpenCV can decode "
                           f"(first bytes {data[:8]!r})")
        if img.dtype != np.uint8:
            raise RowError(f"{what}: a {img.dtype} image cannot be exported as JPEG; store 8-bit frames")
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY])
        if not ok:
            raise RowError(f"{what}: JPEG encoding failed")
        data = enc.tobytes()
    path = Path(path)
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    atomic_write_bytes(path, data)


def write_row_image(row: dict, index: int, column: str, out_dir: Path, stem: str) -> str:
    """Write the row's `column` image ("image" -> images/<stem>.jpg, "som_image" -> images/<stem>_som.jpg) and
    return its path relative to out_dir."""
    require(row, index, column)
    rel = f"images/{stem}.jpg" if column == "image" else f"images/{stem}_{column.removesuffix('_image')}.jpg"
    write_jpeg(bytes(row[column]), Path(out_dir) / rel, f"{row_label(row, index)} column {column!r}")
    return rel


def category_index(category: Any, row: dict, index: int, obj: dict) -> int:
    """0-based index of `category` in sdg.tags.CATEGORIES."""
    try:
        return CATEGORIES.index(category)
    except ValueError:
        raise RowError(f"{row_label(row, index)}: object actor_id={obj.get('actor_id')} has category "
                       f"{category!r}, not one of sdg.tags.CATEGORIES {CATEGORIES}") from None


def visible_box(obj: dict) -> list[float] | None:
    """The object's tight visible box [x1, y1, x2, y2], rounded to 1/1000 px (float32 storage noise removed), or
    None when nothing of it is visible."""
    b = obj.get("bbox_2d")
    if b is None or len(b) != 4:
        return None
    x1, y1, x2, y2 = (round(float(v), 3) for v in b)
    if not (x2 > x1 and y2 > y1):
        return None
    return [x1, y1, x2, y2]


def _r(v: Any, nd: int = 3) -> Any:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return [_r(x, nd) for x in v]
    return round(float(v), nd)


def _polygon_area(flat: list[float]) -> float:
    p = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


# ------------------------------------------------------------------------------------------------------ COCO
def coco_categories() -> list[dict]:
    return [{"id": i + 1, "name": c, "supercategory": _SUPERCATEGORY.get(c, "object")} for i, c in
            enumerate(CATEGORIES)]


def export_coco(rows: Iterable[dict], out_dir: Path, *, name: str = "coco.json") -> Path:
    """Write out_dir/images/<stem>.jpg for every row and out_dir/<name> (COCO instances JSON); returns the JSON
    path. Objects without a visible box are not annotated. Each annotation carries `attributes`: actor_id, mark,
    type_id, visibility, occlusion, truncation, distance (m), survival, bbox_3d (world centre/size m, rotation deg,
    OpenCV camera centre m)."""
    out_dir = Path(out_dir)
    namer = ImageNamer()
    images, annotations = [], []
    for index, row in enumerate(rows):
        require(row, index, "image", "width", "height", "clip_id", "frame_index")
        stem = namer.stem(row)
        image_id = len(images) + 1
        images.append({
            "id": image_id,
            "file_name": write_row_image(row, index, "image", out_dir, stem),
            "width": int(row["width"]),
            "height": int(row["height"]),
            "scenario_id": row.get("scenario_id"),
            "camera": row.get("camera"),
            "clip_id": row.get("clip_id"),
            "variant": row.get("variant"),
            "frame_index": row.get("frame_index"),
            "timestamp": row.get("timestamp"),
        })
        for obj in row.get("objects") or []:
            box = visible_box(obj)
            if box is None:
                continue
            cat = category_index(obj.get("category"), row, index, obj)
            x1, y1, x2, y2 = box
            polys = [_r(p) for p in (obj.get("polygon") or []) if p is not None and len(p) >= 6 and len(p) % 2 == 0]
            if not polys:
                polys = [[x1, y1, x2, y1, x2, y2, x1, y2]]
            pixels = int(obj.get("pixels") or 0)
            area = float(pixels) if pixels > 0 else round(sum(_polygon_area(p) for p in polys), 3)
            b3 = obj.get("bbox_3d") or {}
            annotations.append({
                "id": len(annotations) + 1,
                "image_id": image_id,
                "category_id": cat + 1,
                "bbox": [x1, y1, round(x2 - x1, 3), round(y2 - y1, 3)],
                "area": area,
                "segmentation": polys,
                "iscrowd": 0,
                "attributes": {
                    "actor_id": int(obj.get("actor_id") or 0),
                    "mark": int(obj.get("mark") or 0),
                    "type_id": obj.get("type_id"),
                    "visibility": _r(obj.get("visibility"), 4),
                    "occlusion": _r(obj.get("occlusion"), 4),
                    "truncation": _r(obj.get("truncation"), 4),
                    "distance": _r(obj.get("distance")),
                    "survival": _r(obj.get("survival"), 4),
                    "bbox_3d": {k: _r(b3.get(k)) for k in ("center", "size", "rotation", "center_camera")},
                },
            })
    doc = {
        "info": {"description": "sdg synthetic traffic dataset (COCO instances)", "version": "1.0"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }
    path = out_dir / name
    atomic_write_text(path, json.dumps(doc, separators=(",", ":")))
    return path
