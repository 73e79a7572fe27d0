"""The PNG sheets of `sdg inspect` (drawn into a local folder, published to OUT/inspect/): a contact sheet of
Set-of-Mark frames spread over the dataset, every modality of the busiest frame side by side, every look of that
frame, and every built-in look on it. Also the small image helpers the HTML report shares (label, grid, save)."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from sdg.codec import decode_array, decode_image
from sdg.inspect.counts import FrameKey, look_name
from sdg.inspect.folder import OutputFolder
from sdg.tags import PALETTE


def label(img: np.ndarray, text: str, scale: float | None = None) -> np.ndarray:
    """A copy of the image with `text` on a black box in its top-left corner."""
    img = img.copy()
    scale = scale or max(0.5, img.shape[1] / 900)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.rectangle(img, (0, 0), (tw + 12, th + 14), (0, 0, 0), -1)
    cv2.putText(img, text, (6, th + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2, cv2.LINE_AA)
    return img


def grid(tiles: list[np.ndarray], cols: int, tile_w: int = 480) -> np.ndarray:
    h0, w0 = tiles[0].shape[:2]
    tile_h = int(round(tile_w * h0 / w0))
    tiles = [cv2.resize(t, (tile_w, tile_h), interpolation=cv2.INTER_AREA) for t in tiles]
    rows = []
    for i in range(0, len(tiles), cols):
        row = tiles[i:i + cols]
        row += [np.zeros_like(tiles[0])] * (cols - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def save(path: Path, rgb: np.ndarray, quality: int = 88) -> Path:
    """Write an RGB image (PNG, or JPEG for a .jpg path)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params):
        raise OSError(f"{path}: could not write the image")
    return path


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


def frame_rows(folder: OutputFolder, shard: str, frame_index: int, variant: int | None = None) -> list[dict]:
    """The rows of one frame (all variants, or one) of a shard."""
    import pyarrow.compute as pc

    table = folder.table(shard)
    m = pc.equal(table["frame_index"], frame_index)
    if variant is not None:
        m = pc.and_(m, pc.equal(table["variant"], variant))
    return table.filter(m).to_pylist()


def _modalities(row: dict) -> list[np.ndarray]:
    tiles = [
        label(decode_image(row["rgb_image"]), "rgb (simulator)"),
        label(depth_visual(decode_array(row["depth"])), "depth (log, 0.5-200 m)"),
        label(PALETTE[decode_image(row["semantic"], unchanged=True)], "semantic (CARLA palette)"),
        label(instance_visual(decode_array(row["instance"])), "instance ids"),
    ]
    if row.get("normals"):
        tiles.append(label(decode_image(row["normals"]), "normals (camera)"))
    if row.get("flow"):
        from sdg.groundtruth.flow import flow_visual

        fl = decode_array(row["flow"]).astype(np.float32)
        if np.isfinite(fl).any():
            tiles.append(label(flow_visual(fl), "optical flow (to next frame)"))
    if row.get("edge_image"):
        tiles.append(label(decode_image(row["edge_image"]), "edge control"))
    tiles.append(label(decode_image(row["image"]), "augmented"))
    tiles.append(label(decode_image(row["som_image"]), "set-of-mark"))
    return tiles


def write_sheets(folder: OutputFolder, keys: list[FrameKey], sample: int, target: Path) -> list[Path]:
    images = []
    # contact sheet: frames spread over the dataset, SoM overlays
    idx = np.linspace(0, len(keys) - 1, num=min(sample, len(keys))).round().astype(int)
    tiles = []
    for i in idx:
        k = keys[i]
        r = frame_rows(folder, k.shard, k.frame_index, k.variant)[0]
        tiles.append(label(decode_image(r["som_image"]), f"{k.clip_id} v{k.variant} f{k.frame_index}"))
    images.append(save(target / "contact_sheet.png", grid(tiles, cols=3)))
    # every modality of the busiest frame
    k = max(keys, key=lambda k: k.objects)
    row = frame_rows(folder, k.shard, k.frame_index, k.variant)[0]
    images.append(save(target / "modalities.png", grid(_modalities(row), cols=4)))
    # every look of that frame
    looks = [label(decode_image(row["rgb_image"]), "original")]
    for r in sorted(frame_rows(folder, k.shard, k.frame_index), key=lambda r: r["variant"]):
        looks.append(label(decode_image(r["image"]), f"v{r['variant']} {look_name(r['look'])}"))
    images.append(save(target / "looks.png", grid(looks, cols=min(4, len(looks)))))
    images.append(save(target / "builtin_looks.png", grid(_all_looks(folder, row), cols=4)))
    return images


def _frame_lights(folder: OutputFolder, row: dict) -> list:
    """The frame's projected lights, from the scene the manifest's config rebuilds (empty if it cannot)."""
    try:
        from sdg.augment.lights import project_lights
        from sdg.clips import plan_clips
        from sdg.config import parse_config
        from sdg.scenes import scene_for

        cfg = parse_config(folder.config)
        spec = next(s for s in plan_clips(cfg) if s.clip_id == row["clip_id"])
        scene = scene_for(spec.scenario)
        k = int(np.argmin(np.abs(scene.times - row["timestamp"])))
        return project_lights(scene, spec.camera, [k])
    except Exception:  # noqa: BLE001 - a sheet without lamps is still worth writing
        return []


def _all_looks(folder: OutputFolder, row: dict) -> list[np.ndarray]:
    """Every weather x lighting look of the built-in augmenter on one frame, for side-by-side comparison."""
    from sdg.augment.base import Look
    from sdg.augment.looks import render_look

    rgb = decode_image(row["rgb_image"])[None]
    depth = decode_array(row["depth"])[None]
    semantic = decode_image(row["semantic"], unchanged=True)[None]
    lights = _frame_lights(folder, row)
    fov = float(np.degrees(2 * np.arctan(row["width"] / (2 * row["intrinsics"][0]))))
    tiles = [label(rgb[0], "original")]
    for weather in ("clear", "fog", "rain", "snow"):
        for lighting in ("day", "dusk", "night"):
            road = "wet" if weather == "rain" else "dry"
            look = Look(weather=weather, lighting=lighting, road=road, seed=7, variant=0)
            out = render_look(rgb, depth, semantic, look, lights=lights or None, fov=fov)
            tiles.append(label(out[0], f"{weather}/{lighting}/{road}"))
    tiles.append(label(render_look(rgb, depth, semantic, Look("clear", "day", "wet", 7, 0), lights=lights or None,
                                   fov=fov)[0], "clear/day/wet"))
    return tiles
