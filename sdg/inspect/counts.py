"""One pass over the light columns of every shard and video row: the counts the text summary prints and the report
charts, the index of frames the sheets and the report sample from, and the generated Q&A (what the report shows
when the run wrote no exports)."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sdg.inspect.folder import OutputFolder
from sdg.som.survival import SURVIVAL_LOST

_LIGHT = ["clip_id", "scenario_id", "split", "variant", "frame_index", "timestamp", "objects", "events", "qa", "look"]
_VIDEO_LIGHT = ["clip_id", "scenario_id", "split", "variant", "look", "fps", "n_frames", "frame_indices", "timestamps",
                "width", "height", "events", "qa"]


@dataclass(frozen=True)
class FrameKey:
    """Where one frame row is: its shard and ids, and how busy it is."""

    shard: str
    clip_id: str
    variant: int
    frame_index: int
    timestamp: float
    objects: int
    active_events: int


@dataclass
class VariantInfo:
    """One (clip, variant) of the frame rows."""

    clip_id: str
    variant: int
    look: str
    frames: int = 0
    marked: int = 0  # marked (object, frame) pairs with a survival score
    lost: int = 0  # of those, survival < SURVIVAL_LOST


@dataclass
class Inventory:
    counts: dict
    schema: object = None
    frames: list[FrameKey] = field(default_factory=list)
    variants: dict[tuple[str, int], VariantInfo] = field(default_factory=dict)
    clip_splits: dict[str, str] = field(default_factory=dict)
    qa: list[dict] = field(default_factory=list)  # generated Q&A, frame and video, with ids and media
    videos: list[dict] = field(default_factory=list)  # video rows, light columns
    events: dict[str, list[dict]] = field(default_factory=dict)  # clip -> its video events (event_id, kind, ...)


def look_name(look_json: str | None) -> str:
    if not look_json:
        return "?"
    lk = json.loads(look_json)
    return f"{lk.get('weather')}/{lk.get('lighting')}/{lk.get('road')}"


def take_inventory(folder: OutputFolder) -> Inventory:
    counts: dict = {"clips": len(folder.entries), "rows": 0, "bytes": 0, "variants": Counter(),
                    "categories": Counter(), "events": Counter(), "qa": Counter(),
                    "objects_lost_after_augmentation": 0, "looks": Counter(), "null_or_empty": Counter(),
                    "video_events": Counter(), "video_qa": Counter()}
    inv = Inventory(counts=counts)
    for rel in folder.shards():
        inv.schema = folder.schema(rel)
        entry_bytes = next((e.get("bytes") for e in folder.entries if e["shard"] == rel), None)
        counts["bytes"] += entry_bytes or 0
        counts["null_or_empty"].update({c: 0 for c in inv.schema.names})
        for r in folder.table(rel, _LIGHT).to_pylist():
            _count_row(inv, rel, r)
    inv.videos = folder.video_rows(_VIDEO_LIGHT)
    for v in inv.videos:
        for q in v["qa"] or []:
            counts["video_qa"][q["kind"]] += 1
            inv.qa.append({**q, "choices": q.get("choices") or [], "split": v["split"], "clip_id": v["clip_id"],
                           "scenario_id": v["scenario_id"], "variant": v["variant"], "frame_index": -1,
                           "media": "video"})
        if v["clip_id"] not in inv.events or v["variant"] < 0:
            inv.events[v["clip_id"]] = list(v["events"] or [])
    for clip, evs in inv.events.items():
        counts["video_events"].update(e["kind"] for e in evs)
    return inv


def _count_row(inv: Inventory, rel: str, r: dict) -> None:
    counts = inv.counts
    counts["rows"] += 1
    counts["variants"][r["variant"]] += 1
    look = look_name(r["look"])
    counts["looks"][look] += 1
    info = inv.variants.setdefault((r["clip_id"], r["variant"]), VariantInfo(r["clip_id"], r["variant"], look))
    info.frames += 1
    inv.clip_splits[r["clip_id"]] = r.get("split") or "train"
    for o in r["objects"]:
        counts["categories"][o["category"]] += 1
        if o["survival"] is not None and o["survival"] < SURVIVAL_LOST:
            counts["objects_lost_after_augmentation"] += 1
        if o["mark"] and o["survival"] is not None:
            info.marked += 1
            info.lost += int(o["survival"] < SURVIVAL_LOST)
    active = [e for e in r["events"] if e["active"]]
    for e in active:
        counts["events"][e["kind"]] += 1
    for q in r["qa"]:
        counts["qa"][q["kind"]] += 1
        inv.qa.append({**q, "choices": q.get("choices") or [], "split": r.get("split") or "train",
                       "clip_id": r["clip_id"], "scenario_id": r["scenario_id"], "variant": r["variant"],
                       "frame_index": r["frame_index"], "media": "frame"})
    for c in ("objects", "qa"):
        if not r[c]:
            counts["null_or_empty"][c] += 1
    inv.frames.append(FrameKey(rel, r["clip_id"], r["variant"], r["frame_index"], r["timestamp"], len(r["objects"]),
                               len(active)))


def summary_text(folder: OutputFolder, inv: Inventory) -> str:
    counts = inv.counts
    lines = [f"{folder.root}: {counts['clips']} clip shard(s), {counts['rows']} rows, {counts['bytes'] / 1e6:.1f} MB"]
    if inv.schema is not None:
        s = inv.schema
        lines.append("columns: " + ", ".join(f"{n}:{s.field(n).type}" if n not in ("objects", "events", "qa")
                                               else f"{n}:list<struct>" for n in s.names))
    for key in ("variants", "looks", "categories", "events", "qa", "null_or_empty"):
        c = counts[key]
        lines.append(f"{key}: " + (", ".join(f"{k}={v}" for k, v in sorted(c.items(), key=lambda kv: str(kv[0])))
                                    or "none"))
    if inv.videos:
        lines.append(f"videos: {len(inv.videos)} rows; events per kind: "
                     + ", ".join(f"{k}={v}" for k, v in sorted(counts["video_events"].items()))
                     + "; video questions per kind: "
                     + ", ".join(f"{k}={v}" for k, v in sorted(counts["video_qa"].items())))
    lines.append(f"objects lost after augmentation (survival < {SURVIVAL_LOST:g}): "
                 f"{counts['objects_lost_after_augmentation']}")
    return "\n".join(lines)


def frames_by_clip(frames: list[FrameKey]) -> dict[str, dict[int, list[FrameKey]]]:
    """{clip: {variant: frames by index}}."""
    out: dict[str, dict[int, list[FrameKey]]] = defaultdict(lambda: defaultdict(list))
    for k in frames:
        out[k.clip_id][k.variant].append(k)
    return {c: {v: sorted(fs, key=lambda k: k.frame_index) for v, fs in sorted(vs.items())}
            for c, vs in sorted(out.items())}
