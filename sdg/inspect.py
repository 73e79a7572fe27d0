"""`sdg inspect OUT`: counts per column and category, and PNG sheets (contact sheet of SoM frames, every
modality of one frame side by side, every look of one frame) written to OUT/inspect/. OUT is a local folder or a URI
(``s3://bucket/run1``): shards are read and sheets published through sdg.storage."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

import cv2
import numpy as np
import pyarrow.parquet as pq

from sdg.codec import decode_array, decode_image
from sdg.export.shards import MANIFEST, Manifest
from sdg.storage import Location, open_location
from sdg.tags import PALETTE


@dataclass
class Report:
    text: str
    counts: dict
    images: list[str] = field(default_factory=list)  # paths or URIs of the sheets written


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    scale = max(0.5, img.shape[1] / 900)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.rectangle(img, (0, 0), (tw + 12, th + 14), (0, 0, 0), -1)
    cv2.putText(img, text, (6, th + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def _grid(tiles: list[np.ndarray], cols: int, tile_w: int = 480) -> np.ndarray:
    h0, w0 = tiles[0].shape[:2]
    tile_h = int(round(tile_w * h0 / w0))
    tiles = [cv2.resize(t, (tile_w, tile_h), interpolation=cv2.INTER_AREA) for t in tiles]
    rows = []
    for i in range(0, len(tiles), cols):
        row = tiles[i:i + cols]
        row += [np.zeros_like(tiles[0])] * (cols - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def _save(loc: Location, rel: str, rgb: np.ndarray) -> str:
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"{rel}: PNG encoding failed")
    loc.write_bytes(rel, png.tobytes())
    return loc.display(rel)


def depth_visual(depth: np.ndarray) -> np.ndarray:
    d = np.clip(depth, 0.5, 200.0)
    v = (np.log(d) - np.log(0.5)) / (np.log(200.0) - np.log(0.5))
    return cv2.applyColorMap((255 * (1 - v)).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1].copy()


def instance_visual(inst: np.ndarray) -> np.ndarray:
    ids = inst.astype(np.uint64)
    h = (ids * np.uint64(2654435761)) & np.uint64(0xFFFFFF)
    rgb = np.stack([(h >> np.uint64(s)) & np.uint64(255) for s in (0, 8, 16)], axis=-1).astype(np.uint8)
    rgb[inst == 0] = 0
    return rgb


def _modalities(row: dict) -> list[np.ndarray]:
    tiles = [
        _label(decode_image(row["rgb_image"]), "rgb (simulator)"),
        _label(depth_visual(decode_array(row["depth"])), "depth (log, 0.5-200 m)"),
        _label(PALETTE[decode_image(row["semantic"], unchanged=True)], "semantic (CARLA palette)"),
        _label(instance_visual(decode_array(row["instance"])), "instance ids"),
    ]
    if row.get("normals"):
        tiles.append(_label(decode_image(row["normals"]), "normals (camera)"))
    if row.get("flow"):
        from sdg.groundtruth.flow import flow_visual

        fl = decode_array(row["flow"]).astype(np.float32)
        if np.isfinite(fl).any():
            tiles.append(_label(flow_visual(fl), "optical flow (to next frame)"))
    if row.get("edge_image"):
        tiles.append(_label(decode_image(row["edge_image"]), "edge control"))
    tiles.append(_label(decode_image(row["image"]), "augmented"))
    tiles.append(_label(decode_image(row["som_image"]), "set-of-mark"))
    return tiles


def inspect_output(out_dir, sample: int = 6) -> Report:
    loc = open_location(out_dir)
    if not loc.exists(MANIFEST):
        raise FileNotFoundError(f"{loc.display()}: no {MANIFEST} — not an sdg output folder (run `sdg run` first)")
    manifest = Manifest(loc)
    paths = manifest.files()
    counts: dict = {"clips": len(paths), "rows": 0, "bytes": 0, "variants": Counter(), "categories": Counter(),
                    "events": Counter(), "qa": Counter(), "objects_lost_after_augmentation": 0, "looks": Counter(),
                    "null_or_empty": Counter()}
    schema = None
    light_cols = ["clip_id", "variant", "frame_index", "objects", "events", "qa", "look"]
    samples_keys = []
    for p in paths:
        with loc.open_input(p) as f:
            pf = pq.ParquetFile(f)
            schema = pf.schema_arrow
            counts["bytes"] += f.size()
            t = pf.read(columns=light_cols)
        counts["null_or_empty"].update({c: 0 for c in schema.names})
        for r in t.to_pylist():
            counts["rows"] += 1
            counts["variants"][r["variant"]] += 1
            counts["looks"][_look_name(r["look"])] += 1
            for o in r["objects"]:
                counts["categories"][o["category"]] += 1
                if o["survival"] is not None and o["survival"] < 0.3:
                    counts["objects_lost_after_augmentation"] += 1
            for e in r["events"]:
                if e["active"]:
                    counts["events"][e["kind"]] += 1
            for q in r["qa"]:
                counts["qa"][q["kind"]] += 1
            for c in ("objects", "qa"):
                if not r[c]:
                    counts["null_or_empty"][c] += 1
            samples_keys.append((p, r["clip_id"], r["variant"], r["frame_index"], len(r["objects"])))
    lines = [f"{loc.display()}: {counts['clips']} clip shard(s), {counts['rows']} rows, "
             f"{counts['bytes'] / 1e6:.1f} MB"]
    if schema is not None:
        lines.append("columns: " + ", ".join(f"{n}:{schema.field(n).type}" if n not in ("objects", "events", "qa")
                                               else f"{n}:list<struct>" for n in schema.names))
    for key in ("variants", "looks", "categories", "events", "qa", "null_or_empty"):
        c = counts[key]
        lines.append(f"{key}: " + (", ".join(f"{k}={v}" for k, v in sorted(c.items(), key=lambda kv: str(kv[0])))
                                    or "none"))
    lines.append(f"objects lost after augmentation (survival < 0.3): {counts['objects_lost_after_augmentation']}")
    report = Report(text="\n".join(lines), counts=counts)
    if samples_keys:
        report.images = _sheets(manifest, samples_keys, sample)
    return report


def _look_name(look_json: str | None) -> str:
    if not look_json:
        return "?"
    lk = json.loads(look_json)
    return f"{lk.get('weather')}/{lk.get('lighting')}/{lk.get('road')}"


def _frame_rows(table, frame_index: int, variant: int | None = None) -> list[dict]:
    """The rows of one frame (all variants, or one) of a shard table."""
    import pyarrow.compute as pc

    m = pc.equal(table["frame_index"], frame_index)
    if variant is not None:
        m = pc.and_(m, pc.equal(table["variant"], variant))
    return table.filter(m).to_pylist()


def _sheets(manifest: Manifest, keys: list, sample: int) -> list[str]:
    from functools import lru_cache

    loc = manifest.location
    read = lru_cache(maxsize=2)(manifest.read_table)  # the sampled frames come from few shards: read each once
    images = []
    # contact sheet: frames spread over the dataset, SoM overlays
    idx = np.linspace(0, len(keys) - 1, num=min(sample, len(keys))).round().astype(int)
    tiles = []
    for i in idx:
        path, clip, variant, frame, _ = keys[i]
        r = _frame_rows(read(path), frame, variant)[0]
        tiles.append(_label(decode_image(r["som_image"]), f"{clip} v{variant} f{frame}"))
    images.append(_save(loc, "inspect/contact_sheet.png", _grid(tiles, cols=3)))
    # every modality of the busiest frame
    path, clip, variant, frame, _ = max(keys, key=lambda k: k[4])
    row = _frame_rows(read(path), frame, variant)[0]
    images.append(_save(loc, "inspect/modalities.png", _grid(_modalities(row), cols=4)))
    # every look of that frame
    looks = [_label(decode_image(row["rgb_image"]), "original")]
    for r in sorted(_frame_rows(read(path), frame), key=lambda r: r["variant"]):
        looks.append(_label(decode_image(r["image"]), f"v{r['variant']} {_look_name(r['look'])}"))
    images.append(_save(loc, "inspect/looks.png", _grid(looks, cols=min(4, len(looks)))))
    images.append(_save(loc, "inspect/builtin_looks.png", _grid(_all_looks(manifest.data.get("config"), row), cols=4)))
    return images


def _frame_lights(config: dict | None, row: dict) -> list:
    """The frame's projected lights, from the scene the manifest's config rebuilds (empty if it cannot)."""
    try:
        from sdg.augment.lights import project_lights
        from sdg.clips import plan_clips
        from sdg.config import parse_config
        from sdg.scenes import scene_for

        cfg = parse_config(config)
        spec = next(s for s in plan_clips(cfg) if s.clip_id == row["clip_id"])
        scene = scene_for(spec.scenario)
        k = int(np.argmin(np.abs(scene.times - row["timestamp"])))
        return project_lights(scene, spec.camera, [k])
    except Exception:  # noqa: BLE001 - a sheet without lamps is still worth writing
        return []


def _all_looks(config: dict | None, row: dict) -> list[np.ndarray]:
    """Every weather x lighting look of the built-in augmenter on one frame, for side-by-side comparison."""
    from sdg.augment.base import Look
    from sdg.augment.looks import render_look

    rgb = decode_image(row["rgb_image"])[None]
    depth = decode_array(row["depth"])[None]
    semantic = decode_image(row["semantic"], unchanged=True)[None]
    lights = _frame_lights(config, row)
    fov = float(np.degrees(2 * np.arctan(row["width"] / (2 * row["intrinsics"][0]))))
    tiles = [_label(rgb[0], "original")]
    for weather in ("clear", "fog", "rain", "snow"):
        for lighting in ("day", "dusk", "night"):
            road = "wet" if weather == "rain" else "dry"
            look = Look(weather=weather, lighting=lighting, road=road, seed=7, variant=0)
            out = render_look(rgb, depth, semantic, look, lights=lights or None, fov=fov)
            tiles.append(_label(out[0], f"{weather}/{lighting}/{road}"))
    tiles.append(_label(render_look(rgb, depth, semantic, Look("clear", "day", "wet", 7, 0), lights=lights or None,
                                    fov=fov)[0], "clear/day/wet"))
    return tiles
