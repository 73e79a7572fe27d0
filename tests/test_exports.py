"""COCO, ODVG and LLaVA exports (sdg.export.coco / odvg / llava) from rows shaped exactly like the dataset's."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pyarrow as pa
import pytest

from sdg.export.coco import RowError, export_coco
from sdg.export.llava import export_llava
from sdg.export.odvg import export_odvg
from sdg.model import ROW_SCHEMA
from sdg.som.qa import MC_INSTRUCTION
from sdg.tags import CATEGORIES

W, H = 64, 48


def _jpeg(value: int) -> bytes:
    img = np.full((H, W, 3), value, np.uint8)
    img[10:20, 10:30] = (255 - value, 40, 200)
    ok, enc = cv2.imencode(".jpg", img)
    assert ok
    return enc.tobytes()


def _object(mark, aid, cat, box, pixels, polygon=None):
    return {
        "mark": mark, "actor_id": aid, "category": cat, "type_id": f"vehicle.{cat}", "bbox_2d": box,
        "bbox_2d_amodal": box or [0, 0, 1, 1], "polygon": polygon or [],
        "bbox_3d": {"center": [10.1, -2.3, 0.7], "size": [4.5, 1.9, 1.4], "rotation": [0.0, 0.0, 91.5],
                    "center_camera": [1.2, 0.4, 15.3]},
        "corners_2d": [], "distance": 15.3, "visibility": 0.83, "occlusion": 0.17, "truncation": 0.0,
        "pixels": pixels, "speed": 3.3, "state": None, "size_source": "carla", "survival": 0.9,
    }


def _rows():
    """Two frames through a real ROW_SCHEMA table and back (float32 storage, nulls) like the writer's shards."""
    qa0 = [
        {"question": "How many cars are visible?", "answer": "B", "kind": "count", "choices": ["3", "2", "4", "1"]},
        {"question": "Is the object marked 1 to the left of the object marked 2?", "answer": "yes",
         "kind": "spatial", "choices": []},
        {"question": "Which marked objects are involved in the collision?", "answer": "C", "kind": "event",
         "choices": ["2", "1 and 3", "1 and 2", "3"]},
    ]
    rows = [
        {"job": "j", "scenario_id": "s/1", "camera": "cam A", "clip_id": "s1:camA:0", "variant": 0, "frame_index": 3,
         "timestamp": 0.3, "width": W, "height": H, "image": _jpeg(60), "som_image": _jpeg(90),
         "objects": [_object(1, 968, "car", [10.3, 10.0, 30.7, 20.0], 187,
                             [[10.5, 10.5, 30.5, 10.5, 30.5, 19.5, 10.5, 19.5]]),
                     _object(2, 971, "van", [40.0, 5.0, 60.0, 25.0], 400),
                     _object(3, 972, "pedestrian", None, 0)],  # not visible: never exported
         "events": [], "qa": qa0, "seed": 7},
        {"job": "j", "scenario_id": "s/1", "camera": "cam A", "clip_id": "s1:camA:0", "variant": 1, "frame_index": 3,
         "timestamp": 0.3, "width": W, "height": H, "image": _jpeg(120), "som_image": None,
         "objects": [], "events": [], "seed": 7,
         "qa": [{"question": "Is there a bus in the image?", "answer": "no", "kind": "existence", "choices": []}]},
    ]
    table = pa.Table.from_pylist(rows, schema=ROW_SCHEMA)
    return table.to_pylist()


def test_coco_matches_rows(tmp_path):
    rows = _rows()
    path = export_coco(rows, tmp_path)
    assert path == tmp_path / "coco.json"
    doc = json.loads(path.read_text())
    assert [c["name"] for c in doc["categories"]] == CATEGORIES
    assert [c["id"] for c in doc["categories"]] == list(range(1, len(CATEGORIES) + 1))
    assert len(doc["images"]) == 2
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    for im, row in zip(doc["images"], rows):
        assert (im["width"], im["height"]) == (W, H)
        assert im["file_name"].startswith("images/") and im["file_name"].endswith(".jpg")
        data = (tmp_path / im["file_name"]).read_bytes()
        assert data == row["image"]  # JPEG bytes written as they are
        assert (im["clip_id"], im["variant"], im["frame_index"]) == (row["clip_id"], row["variant"], row["frame_index"])
    assert doc["images"][0]["file_name"] != doc["images"][1]["file_name"]
    anns = doc["annotations"]
    assert len(anns) == 2 and all(a["image_id"] == 1 for a in anns)
    for a, o in zip(anns, rows[0]["objects"][:2]):
        x1, y1, x2, y2 = o["bbox_2d"]
        assert a["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=1e-3)
        assert a["area"] == o["pixels"]
        assert a["iscrowd"] == 0
        assert cats[a["category_id"]] == o["category"]
        attrs = a["attributes"]
        assert (attrs["actor_id"], attrs["mark"]) == (o["actor_id"], o["mark"])
        assert attrs["visibility"] == pytest.approx(0.83, abs=1e-4)
        assert attrs["occlusion"] == pytest.approx(0.17, abs=1e-4) and attrs["truncation"] == 0.0
        assert attrs["bbox_3d"]["rotation"] == [0.0, 0.0, 91.5]
        assert attrs["bbox_3d"]["center"] == pytest.approx([10.1, -2.3, 0.7], abs=1e-3)
    assert anns[0]["bbox"] == [10.3, 10.0, 20.4, 10.0]  # float32 noise rounded away
    assert anns[0]["segmentation"] == [[10.5, 10.5, 30.5, 10.5, 30.5, 19.5, 10.5, 19.5]]
    assert anns[1]["segmentation"] == [[40.0, 5.0, 60.0, 5.0, 60.0, 25.0, 40.0, 25.0]]  # box when no polygon
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coco.json", "images"]  # no temp files left


def test_png_frames_are_written_as_jpeg_and_bad_rows_are_named(tmp_path):
    rows = _rows()
    img = np.zeros((H, W, 3), np.uint8)
    img[:, :32] = 200
    rows[1]["image"] = cv2.imencode(".png", img)[1].tobytes()
    doc = json.loads(export_coco(rows, tmp_path).read_text())
    data = (tmp_path / doc["images"][1]["file_name"]).read_bytes()
    assert data[:3] == b"\xff\xd8\xff"
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(back.astype(int) - img).max() <= 8
    rows[0]["objects"][0]["category"] = "tram"
    with pytest.raises(RowError, match=r"row 0 .*actor_id=968.*'tram'"):
        export_coco(rows, tmp_path / "x")
    rows = _rows()
    rows[1]["image"] = None
    with pytest.raises(RowError, match=r"row 1 .*'image'"):
        export_coco(rows, tmp_path / "y")
    rows[1]["image"] = b"not an image"
    with pytest.raises(RowError, match="neither JPEG"):
        export_coco(rows, tmp_path / "z")


def test_odvg_lines_match_rows(tmp_path):
    rows = _rows()
    path = export_odvg(rows, tmp_path)
    lines = path.read_text().splitlines()
    assert len(lines) == 1  # the frame without objects is skipped
    rec = json.loads(lines[0])
    assert set(rec) == {"filename", "height", "width", "detection"}
    assert (rec["height"], rec["width"]) == (H, W)
    assert (tmp_path / rec["filename"]).read_bytes() == rows[0]["image"]
    label_map = json.loads((tmp_path / "odvg_label_map.json").read_text())
    assert label_map == {str(i): c for i, c in enumerate(CATEGORIES)}
    inst = rec["detection"]["instances"]
    assert [i["bbox"] for i in inst] == [[10.3, 10.0, 30.7, 20.0], [40.0, 5.0, 60.0, 25.0]]
    assert [(label_map[str(i["label"])], i["category"]) for i in inst] == [("car", "car"), ("van", "van")]
    all_lines = export_odvg(rows, tmp_path, name="all.jsonl", include_empty=True).read_text().splitlines()
    assert len(all_lines) == 2 and json.loads(all_lines[1])["detection"] == {"instances": []}


def test_llava_structure_exact(tmp_path):
    rows = _rows()
    path = export_llava(rows, tmp_path)
    recs = json.loads(path.read_text())
    assert [r["id"] for r in recs] == ["s1-camA-0_v00_f000003-q000", "s1-camA-0_v00_f000003-q001",
                                       "s1-camA-0_v00_f000003-q002", "s1-camA-0_v01_f000003-q000"]
    clean, som = "images/s1-camA-0_v00_f000003.jpg", "images/s1-camA-0_v00_f000003_som.jpg"
    assert [r["image"] for r in recs] == [clean, som, som, "images/s1-camA-0_v01_f000003.jpg"]
    assert (tmp_path / som).read_bytes() == rows[0]["som_image"]
    for r in recs:
        assert set(r) == {"id", "image", "conversations"}
        assert [t["from"] for t in r["conversations"]] == ["human", "gpt"]
    assert recs[0]["conversations"] == [
        {"from": "human", "value": "<image>\nHow many cars are visible?\nA. 3\nB. 2\nC. 4\nD. 1\n" + MC_INSTRUCTION},
        {"from": "gpt", "value": "B"}]
    assert recs[2]["conversations"] == [
        {"from": "human", "value": "<image>\nWhich marked objects are involved in the collision?\nA. 2\nB. 1 and 3\n"
                                   "C. 1 and 2\nD. 3\n" + MC_INSTRUCTION},
        {"from": "gpt", "value": "C"}]
    assert recs[3]["conversations"][1]["value"] == "no"


def test_llava_multi_turn_and_missing_som_image(tmp_path):
    rows = _rows()
    recs = json.loads(export_llava(rows, tmp_path, multi_turn=True).read_text())
    assert [r["id"] for r in recs] == ["s1-camA-0_v00_f000003", "s1-camA-0_v00_f000003-som",
                                       "s1-camA-0_v01_f000003"]
    conv = recs[1]["conversations"]
    assert [t["from"] for t in conv] == ["human", "gpt", "human", "gpt"]
    assert conv[0]["value"].startswith("<image>\nIs the object marked 1")
    assert conv[2]["value"].startswith("Which marked objects")
    assert sum(t["value"].count("<image>") for r in recs for t in r["conversations"]) == len(recs)
    rows[0]["som_image"] = None
    with pytest.raises(RowError, match=r"row 0 .*\['event', 'spatial'\].*som_image"):
        export_llava(rows, tmp_path / "b")


def test_exports_are_idempotent_and_share_images(tmp_path):
    rows = _rows()
    first = [export_coco(rows, tmp_path).read_bytes(), export_odvg(rows, tmp_path).read_bytes(),
             export_llava(rows, tmp_path).read_bytes()]
    again = [export_coco(rows, tmp_path).read_bytes(), export_odvg(rows, tmp_path).read_bytes(),
             export_llava(rows, tmp_path).read_bytes()]
    assert first == again
    names = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert names == ["s1-camA-0_v00_f000003.jpg", "s1-camA-0_v00_f000003_som.jpg", "s1-camA-0_v01_f000003.jpg"]
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_clashing_clip_ids_get_distinct_images(tmp_path):
    rows = _rows()[:1] * 2
    rows[1] = {**rows[1], "scenario_id": "other", "image": _jpeg(200)}
    doc = json.loads(export_coco(rows, tmp_path).read_text())
    a, b = (im["file_name"] for im in doc["images"])
    assert a != b
    assert (tmp_path / b).read_bytes() == rows[1]["image"]


def test_video_export_writes_decodable_clips(tmp_path):
    import numpy as np

    from sdg.augment.video import read_mp4
    from sdg.codec import encode_image
    from sdg.export.video import export_videos

    rows = []
    for v in (0, 1):
        for f in range(5):
            img = np.full((32, 48, 3), 40 * f + 60 * v, np.uint8)
            b = encode_image(img, "png")
            rows.append({"clip_id": "s.cam", "variant": v, "frame_index": f, "timestamp": f * 0.1,
                         "rgb_image": b, "edge_image": b, "image": b, "som_image": b})
    folder = export_videos(rows, tmp_path)
    names = sorted(p.name for p in (folder / "s.cam").iterdir())
    assert names == ["edge.mp4", "rgb.mp4", "v0_augmented.mp4", "v0_som.mp4", "v1_augmented.mp4", "v1_som.mp4"]
    clip = read_mp4(folder / "s.cam" / "v1_augmented.mp4")
    assert clip.shape == (5, 32, 48, 3)
    assert abs(float(clip[4].mean()) - (40 * 4 + 60)) < 4


def test_llava_keeps_only_the_selected_questions(tmp_path):
    rows = _rows()
    rows[0]["qa"] = [dict(q, id=f"r0/{i}") for i, q in enumerate(rows[0]["qa"])]
    recs = json.loads(export_llava(rows, tmp_path, keep={"r0/1"}).read_text())
    assert len(recs) == 1 and recs[0]["conversations"][0]["value"].startswith("<image>\nIs the object marked 1")


def test_som_videos_and_llava_video_records(tmp_path):
    import numpy as np

    from sdg.augment.video import encode_mp4, read_mp4
    from sdg.export.llava import export_llava_video
    from sdg.export.video import export_som_videos
    from sdg.model import QAPair

    clip = np.zeros((7, 32, 48, 3), np.uint8)
    clip[:, 8:20, 10:30] = (220, 40, 40)
    mp4 = encode_mp4(clip, 10.0)
    rows = [{"clip_id": "s.cam", "variant": -1, "som_video": mp4, "event_videos": [
                {"event_id": "collision", "som_video": mp4}, {"event_id": "noncollision_0", "som_video": mp4}]},
            {"clip_id": "s.cam", "variant": 1, "som_video": mp4, "event_videos": []}]
    written = export_som_videos(rows, tmp_path)
    assert written == {("s.cam", -1, "som"): "videos/s.cam/sim_som.mp4",
                       ("s.cam", -1, "event:collision"): "videos/s.cam/sim_events_collision_som.mp4",
                       ("s.cam", -1, "event:noncollision_0"): "videos/s.cam/sim_events_noncollision_0_som.mp4",
                       ("s.cam", 1, "som"): "videos/s.cam/v1_som.mp4"}
    for rel in written.values():
        assert read_mp4(tmp_path / rel).shape[0] == 7
    index = json.loads((tmp_path / "videos" / "index.json").read_text())
    assert "s.cam/sim_events_collision_som.mp4" in index["s.cam"]  # like the per-clip videos: <clip>/<file>
    qa = QAPair(question="Is there a car collision between vehicles with numeric IDs 3 and 5? Your final answer "
                         "should be either Yes or No.", answer="Yes", kind="event", template="collision_pair",
                id="s.cam/sim/video/collision_pair/0", video="event:collision")
    path = export_llava_video([(qa, written[("s.cam", -1, "event:collision")])], tmp_path)
    recs = json.loads(path.read_text())
    assert recs == [{"id": qa.id, "video": "videos/s.cam/sim_events_collision_som.mp4", "conversations": [
        {"from": "human", "value": "<image>\n" + qa.question}, {"from": "gpt", "value": "Yes"}]}]
    with pytest.raises(RowError, match="not in"):
        export_llava_video([(qa, "videos/s.cam/missing.mp4")], tmp_path)


def test_dataset_card_header_names_every_split_file():
    import yaml

    from sdg.config import parse_config
    from sdg.export.card import dataset_card

    cfg = parse_config({"name": "j", "cameras": [{"name": "c"}], "scenarios": [{"id": "a"}]})
    text = dataset_card(cfg, {"train": ["shards/part-a.parquet"], "test": ["shards/part-b.parquet"]},
                        {"train": ["videos/part-a.parquet"], "test": []}, {"train": "exports/qa/train.parquet"},
                        {"splits": {"train": ["a"], "test": ["b"]}, "text_only_baseline": {"by_kind": {
                            "spatial": {"n": 10, "chance": 0.5, "majority": 0.5, "bow": 0.4, "lower_mark": 0.5}}}})
    head = yaml.safe_load(text.split("---\n")[1])
    frames = next(c for c in head["configs"] if c["config_name"] == "frames")
    assert frames["default"] is True
    assert frames["data_files"] == [{"split": "train", "path": ["shards/part-a.parquet"]},
                                    {"split": "test", "path": ["shards/part-b.parquet"]}]
    videos = next(c for c in head["configs"] if c["config_name"] == "videos")
    assert videos["data_files"] == [{"split": "train", "path": ["videos/part-a.parquet"]}]
    assert "| spatial | 10 | 0.50 | 0.50 | 0.40 | 0.50 |" in text and "<image>" in text
