"""The pictures of the HTML report, written as JPEGs into img/ of the local folder the report is built in (then
published to OUT/inspect/img/): per clip and video (the simulator's and each variant's) sample Set-of-Mark frames,
the first and last frame of every event's Set-of-Mark video (decoded from the exported mp4s with PyAV), and the
frame or video strip each Q&A example is about."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sdg.augment.video import VideoError, decode_mp4, read_mp4
from sdg.codec import decode_image
from sdg.inspect.counts import FrameKey, Inventory, frames_by_clip
from sdg.inspect.folder import OutputFolder
from sdg.inspect.sheets import frame_rows, label, save
from sdg.seeds import stable_seed
from sdg.som.qa import MARKED_KINDS

THUMB_W = 400
_EVENT_MP4 = re.compile(r"_events_(.+)_som\.mp4$")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class Images:
    """Writes the report's JPEGs into <target>/img/ and returns their paths relative to the page."""

    def __init__(self, target: Path):
        self.target = Path(target)
        self.written: list[Path] = []

    def put(self, name: str, rgb: np.ndarray, width: int = THUMB_W) -> str:
        h, w = rgb.shape[:2]
        if w > width:
            rgb = cv2.resize(rgb, (width, int(round(h * width / w))), interpolation=cv2.INTER_AREA)
        rel = f"img/{_SAFE.sub('_', name)}.jpg"
        self.written.append(save(self.target / rel, rgb, quality=85))
        return rel


def video_name(variant: int) -> str:
    return "sim" if variant < 0 else f"v{variant}"


def _decode(folder: OutputFolder, clip: str, variant: int, event_id: str | None, size) -> np.ndarray | None:
    """The frames of a Set-of-Mark video: the exported mp4 (a remote one copied locally to be read), else the bytes
    of the clip's video rows; None when there is neither or it does not decode."""
    src = folder.som_mp4(clip, variant, event_id)
    if src is None:
        return None
    try:
        if isinstance(src, bytes):
            return decode_mp4(src, size=size, name=f"{clip} {video_name(variant)} {event_id or 'som'}")
        with folder.local_file(src) as path:
            return read_mp4(path, size=size)
    except VideoError:
        return None


# ------------------------------------------------------------------------------------------- frames per clip
@dataclass
class Cell:
    caption: str
    src: str
    frame: str = ""  # which frame of its video: the frame index, or "first" / "last"


@dataclass
class VideoLine:
    """One video of a clip: its name (sim, v0, ...), look and cells."""

    name: str
    look: str
    cells: list[Cell]
    lost: str = ""  # marked objects lost in this variant ("12 of 90")


@dataclass
class EventLine:
    event_id: str
    kind: str
    marks: list[int]
    span: str
    cells: dict[str, list[Cell]] = field(default_factory=dict)  # video name -> [first, last]


@dataclass
class ClipSample:
    clip_id: str
    split: str
    videos: list[VideoLine]
    events: list[EventLine]


def _pick_frames(keys: list[FrameKey], n: int) -> list[FrameKey]:
    """First, busiest (most active events, then objects) and last frame, then evenly spread ones up to n."""
    if len(keys) <= n:
        return keys
    busiest = max(keys, key=lambda k: (k.active_events, k.objects, -k.frame_index))
    chosen = {keys[0].frame_index, busiest.frame_index, keys[-1].frame_index}
    for i in np.linspace(0, len(keys) - 1, num=n + 2).round().astype(int):
        if len(chosen) >= n:
            break
        chosen.add(keys[i].frame_index)
    return [k for k in keys if k.frame_index in chosen][:n]


def clip_samples(folder: OutputFolder, inv: Inventory, images: Images, per_video: int = 3) -> list[ClipSample]:
    out = []
    video_rows = {(v["clip_id"], v["variant"]): v for v in inv.videos}
    for clip, variants in frames_by_clip(inv.frames).items():
        first = next(iter(variants.values()))
        picks = _pick_frames(first, per_video)
        t0 = first[0].timestamp
        lines = []
        sim = video_rows.get((clip, -1))
        if sim is not None:
            lines.append(_sim_line(folder, clip, sim, picks, t0, images))
        for v, keys in variants.items():
            info = inv.variants[(clip, v)]
            cells = []
            for k in (k for k in keys if k.frame_index in {p.frame_index for p in picks}):
                row = frame_rows(folder, k.shard, k.frame_index, v)[0]
                src = images.put(f"{clip}_v{v}_f{k.frame_index}", decode_image(row["som_image"]))
                cells.append(Cell(f"frame {k.frame_index} · t={k.timestamp - t0:.1f} s", src, str(k.frame_index)))
            lost = f"{info.lost} of {info.marked} marked lost" if info.marked else ""
            lines.append(VideoLine(video_name(v), info.look, cells, lost))
        out.append(ClipSample(clip, inv.clip_splits.get(clip, ""), lines, _event_lines(folder, inv, clip, images)))
    return out


def _sim_line(folder: OutputFolder, clip: str, row: dict, picks: list[FrameKey], t0: float,
              images: Images) -> VideoLine:
    """The simulator's video: its Set-of-Mark mp4 at the picked frames (frame rows hold only the variants)."""
    frames = _decode(folder, clip, -1, None, (row["height"], row["width"]))
    cells = []
    if frames is not None:
        pos = {f: i for i, f in enumerate(row["frame_indices"])}
        for k in picks:
            if k.frame_index in pos and pos[k.frame_index] < len(frames):
                src = images.put(f"{clip}_sim_f{k.frame_index}", frames[pos[k.frame_index]])
                cells.append(Cell(f"frame {k.frame_index} · t={k.timestamp - t0:.1f} s", src, str(k.frame_index)))
    return VideoLine("sim", "simulator", cells)


def _event_lines(folder: OutputFolder, inv: Inventory, clip: str, images: Images) -> list[EventLine]:
    rows = sorted((v for v in inv.videos if v["clip_id"] == clip), key=lambda v: v["variant"])
    out = []
    for e in inv.events.get(clip, []):
        line = EventLine(e["event_id"], e["kind"], list(e["marks"] or []),
                         f"{e['t_start']:.1f}–{e['t_end']:.1f} s")
        for v in rows:
            frames = _decode(folder, clip, v["variant"], e["event_id"], (v["height"], v["width"]))
            if frames is None or not len(frames):
                continue
            name = video_name(v["variant"])
            stem = f"{clip}_{name}_{e['event_id']}"
            line.cells[name] = [
                Cell(f"{name} first frame (t=0.0 s)", images.put(f"{stem}_first", frames[0], width=480), "first"),
                Cell(f"{name} last frame (#{len(frames) - 1})", images.put(f"{stem}_last", frames[-1], width=480),
                     "last"),
            ]
        out.append(line)
    return out


# ------------------------------------------------------------------------------------------- Q&A examples
@dataclass
class Example:
    qa: dict
    src: str
    caption: str
    event: str | None = None  # video questions: the event whose video it is (None: every mark)


@dataclass
class QAGroup:
    media: str  # "frame" | "video"
    kind: str
    total: int  # questions of this media and kind in the pool
    templates: int
    examples: list[Example]


def event_of(q: dict) -> str | None:
    """The event a video question's video marks (None: the clip's video with every mark)."""
    v = q.get("video") or ""
    if v.startswith("event:"):
        return v[len("event:"):]
    m = _EVENT_MP4.search(q.get("path") or "")
    return m.group(1) if m else None


def is_video(q: dict) -> bool:
    return int(q.get("frame_index", 0)) < 0 or q.get("media") == "video"


def pick_examples(pool: list[dict], per_kind: int) -> dict[tuple[str, str], tuple[list[dict], int, int]]:
    """{(media, kind): (examples, questions, templates)}: per media and kind up to `per_kind` questions of distinct
    templates (then any), chosen by a stable hash of their ids."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for q in pool:
        groups.setdefault(("video" if is_video(q) else "frame", q["kind"]), []).append(q)
    out = {}
    for key, qs in sorted(groups.items()):
        ordered = sorted(qs, key=lambda q: stable_seed("inspect", q.get("id") or q["question"]))
        chosen, seen = [], set()
        for q in ordered:
            t = q.get("template") or q["kind"]
            if t not in seen and len(chosen) < per_kind:
                chosen.append(q)
                seen.add(t)
        chosen += [q for q in ordered if q not in chosen][: per_kind - len(chosen)]
        out[key] = (chosen, len(qs), len({q.get("template") or q["kind"] for q in qs}))
    return out


def qa_groups(folder: OutputFolder, inv: Inventory, pool: list[dict], images: Images,
              per_kind: int = 3) -> list[QAGroup]:
    shard_of = {k.clip_id: k.shard for k in inv.frames}
    size_of = {(v["clip_id"], v["variant"]): (v["height"], v["width"], v["timestamps"]) for v in inv.videos}
    out = []
    for (media, kind), (qs, total, templates) in pick_examples(pool, per_kind).items():
        examples = []
        for i, q in enumerate(qs):
            name = f"qa_{media}_{kind}_{i}"
            if media == "frame":
                rows = frame_rows(folder, shard_of[q["clip_id"]], q["frame_index"], q["variant"]) \
                    if q["clip_id"] in shard_of else []
                if not rows:
                    continue
                som = q["kind"] in MARKED_KINDS
                img = decode_image(rows[0]["som_image" if som else "image"])
                caption = f"{q['clip_id']} {video_name(q['variant'])} frame {q['frame_index']}" + \
                    (" (Set-of-Mark)" if som else "")
                examples.append(Example(q, images.put(name, img, width=560), caption))
            else:
                h, w, times = size_of.get((q["clip_id"], q["variant"]), (None, None, []))
                event = event_of(q)
                frames = _decode(folder, q["clip_id"], q["variant"], event, (h, w) if h else None)
                if frames is None:
                    continue
                strip = video_strip(frames, times)
                which = f"event {event}" if event else "every mark"
                caption = f"{q['clip_id']} {video_name(q['variant'])} Set-of-Mark video ({which}), " \
                          f"{len(frames)} frames"
                examples.append(Example(q, images.put(name, strip, width=1200), caption, event))
        out.append(QAGroup(media, kind, total, templates, examples))
    return out


def video_strip(frames: np.ndarray, times: list[float] | None = None, n: int = 4, tile_w: int = 300) -> np.ndarray:
    """n frames spread over a video, side by side, each labelled with its position and time."""
    idx = np.linspace(0, len(frames) - 1, num=min(n, len(frames))).round().astype(int)
    h, w = frames.shape[1:3]
    tile_h = int(round(tile_w * h / w))
    tiles = []
    for i in idx:
        t = f" t={times[i] - times[0]:.1f} s" if times and i < len(times) else ""
        tile = cv2.resize(frames[i], (tile_w, tile_h), interpolation=cv2.INTER_AREA)
        tiles.append(label(tile, f"#{i}{t}", scale=0.45))
    gap = np.full((tile_h, 4, 3), 255, np.uint8)
    parts = []
    for k, tile in enumerate(tiles):
        parts += ([gap] if k else []) + [tile]
    return np.concatenate(parts, axis=1)
