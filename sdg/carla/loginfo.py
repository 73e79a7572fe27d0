"""`sdg log-info FILE`: what a CARLA recorder file holds, without a CARLA server."""
from __future__ import annotations

import datetime as _dt
import os

from sdg.carla.recorder import load_recording


def log_info(path: str | os.PathLike, allow_truncated: bool = False) -> dict:
    """Summary of a recorder file as plain JSON-able data.

    Keys: map, version, date (ISO 8601 UTC), frames (count), duration (s), fps (median), actors (list of
    {id, type_id, kind, first_frame, last_frame} with the file's frame numbers), collisions (list of
    {frame, time, actor1, actor2}, frame = the file's frame number, time in seconds), notes."""
    rec = load_recording(path, allow_truncated=allow_truncated)
    fid = rec.frame_ids

    def frame_no(i: int) -> int | None:
        return int(fid[i]) if 0 <= i < len(fid) else None

    actors = [
        {"id": a.id, "type_id": a.type_id, "kind": a.kind, "first_frame": frame_no(a.first_frame),
         "last_frame": frame_no(a.last_frame)}
        for a in sorted(rec.actors.values(), key=lambda a: a.id)
    ]
    collisions = [
        {"frame": frame_no(c.frame), "time": round(c.time, 6), "actor1": c.actor1, "actor2": c.actor2}
        for c in rec.collisions
    ]
    return {
        "file": str(rec.path),
        "map": rec.map_name,
        "version": rec.header.version,
        "date": _dt.datetime.fromtimestamp(rec.header.date, _dt.timezone.utc).isoformat(),
        "frames": int(len(rec.times)),
        "duration": round(rec.duration, 6),
        "fps": round(rec.fps, 3),
        "actors": actors,
        "collisions": collisions,
        "notes": list(rec.notes),
    }


def format_log_info(info: dict, max_actors: int = 50) -> str:
    """Human-readable text of `log_info`'s result."""
    kinds: dict[str, int] = {}
    for a in info["actors"]:
        kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    lines = [
        f"File:      {info.get('file', '')}",
        f"Map:       {info['map']}",
        f"Recorded:  {info['date']}  (format version {info['version']})",
        f"Frames:    {info['frames']}  duration {info['duration']:.3f} s  ~{info['fps']:.2f} fps",
        f"Actors:    {len(info['actors'])}  (" + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) + ")",
    ]
    for a in info["actors"][:max_actors]:
        lines.append(f"  {a['id']:>6}  {a['kind']:<13} {a['type_id']:<40} frames {a['first_frame']}..{a['last_frame']}")
    if len(info["actors"]) > max_actors:
        lines.append(f"  ... and {len(info['actors']) - max_actors} more (use --json for all)")
    lines.append(f"Collisions: {len(info['collisions'])}")
    seen = set()
    for c in info["collisions"]:
        key = (c["actor1"], c["actor2"])
        first = key not in seen
        seen.add(key)
        if first:
            lines.append(f"  frame {c['frame']} t={c['time']:.3f} s: {c['actor1']} <-> {c['actor2']}")
    if len(info["collisions"]) > len(seen):
        lines.append(f"  ({len(info['collisions'])} records in all; first contact of each pair shown)")
    for n in info.get("notes", []):
        lines.append(f"Note: {n}")
    return "\n".join(lines)
