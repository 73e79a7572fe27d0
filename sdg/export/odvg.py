"""ODVG export (the JSONL format of Open-GroundingDino) of dataset rows.

out_dir/odvg.jsonl, one image a line:
  {"filename": "images/<stem>.jpg", "height": H, "width": W,
   "detection": {"instances": [{"bbox": [x1, y1, x2, y2], "label": 0, "category": "car"}, ...]}}
out_dir/odvg_label_map.json: {"0": "car", "1": "van", ...} (label = index in sdg.tags.CATEGORIES, stable).
Boxes are absolute pixels, the tight visible box in sdg.geometry's continuous convention; filenames are relative to
out_dir, images are shared with the other exports (sdg.export.coco layout).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from sdg.export.coco import (
    ImageNamer,
    atomic_write_text,
    category_index,
    require,
    visible_box,
    write_row_image,
)
from sdg.tags import CATEGORIES


def label_map() -> dict[str, str]:
    return {str(i): c for i, c in enumerate(CATEGORIES)}


def odvg_record(row: dict, index: int, filename: str) -> dict:
    """The ODVG detection record of one row (objects without a visible box are left out)."""
    instances = []
    for obj in row.get("objects") or []:
        box = visible_box(obj)
        if box is None:
            continue
        cat = category_index(obj.get("category"), row, index, obj)
        instances.append({"bbox": box, "label": cat, "category": CATEGORIES[cat]})
    return {"filename": filename, "height": int(row["height"]), "width": int(row["width"]),
            "detection": {"instances": instances}}


def export_odvg(rows: Iterable[dict], out_dir: Path, *, name: str = "odvg.jsonl",
                include_empty: bool = False) -> Path:
    """Write out_dir/images/, out_dir/<name> and out_dir/odvg_label_map.json; returns the JSONL path. Frames
    without any visible object are skipped unless include_empty."""
    out_dir = Path(out_dir)
    namer = ImageNamer()
    lines = []
    for index, row in enumerate(rows):
        require(row, index, "image", "width", "height", "clip_id", "frame_index")
        stem = namer.stem(row)
        rec = odvg_record(row, index, f"images/{stem}.jpg")
        if not rec["detection"]["instances"] and not include_empty:
            continue
        write_row_image(row, index, "image", out_dir, stem)
        lines.append(json.dumps(rec, separators=(",", ":")))
    atomic_write_text(out_dir / "odvg_label_map.json", json.dumps(label_map(), indent=1))
    path = out_dir / name
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return path
