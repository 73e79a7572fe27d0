"""A CARLA recording as a Scene: the recorded actors, moving as recorded, on a built-in stand-in of the map.

`scene_from_recording(spec)` reads the recorder file (sdg.carla.recorder, no CARLA server), takes a time window
(spec.start_time/duration, else the scenario JSON's start_time/duration, else the whole recording) and samples it at
spec.fps: scene.times are SECONDS OF THE RECORDING (start, start + 1/fps, ...), so the CARLA backend can replay the
same window and scene times can be compared with the scenario JSON.

Actors: vehicles and walkers alive at some time of the window, traffic lights (with their recorded states) and
signs. Poses are interpolated (sdg.carla.recorder.trajectories) and held outside an actor's own lifetime; an actor
not alive for the whole window has attributes["alive"] = [t_first, t_last]. Sizes come from sdg.carla.sizes
(size_source "log" | "table" | "default"). Collisions are Events of kind "collision" starting at the first
recorded contact of each pair. The ground, props and street lights come from the OpenDRIVE map when spec.xodr is
set (sdg.scenario.opendrive.layout_from_xodr), else from sdg.scenario.layout.layout_for_map.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from sdg.carla.recorder import Recording, iter_packets, load_recording, states_at, trajectories
from sdg.carla.sizes import actor_size, category_of
from sdg.config import RecordingScenario
from sdg.scenario.layout import LAYOUTS, build_layout, layout_for_map
from sdg.scenario.opendrive import layout_from_xodr
from sdg.scenario.scenario_json import load_scenario_json
from sdg.scene import Actor, Event, Scene

log = logging.getLogger(__name__)

_ANNOTATED_KINDS = ("vehicle", "walker", "traffic_light", "traffic_sign")


@dataclass(frozen=True)
class ReplayWindow:
    """The part of a recording a scenario uses: seconds of the recording, frame rate, and where it came from."""

    start: float
    duration: float
    fps: float
    source: str  # "config" | "scenario_json" | "recording"
    collision_actor_ids: tuple[int, ...] = ()

    @property
    def times(self) -> np.ndarray:
        n = max(1, int(round(self.duration * self.fps)))
        return self.start + np.arange(n, dtype=np.float64) / self.fps


def _scenario_window(spec: RecordingScenario):
    if spec.scenario_json is None:
        return None
    return load_scenario_json(spec.scenario_json)


def recording_span(path) -> tuple[float, float]:
    """(first, last) frame time of a recording, reading only its FrameStart packets."""
    ts = [p.data.elapsed for p in iter_packets(path, decode={0}) if p.id == 0]
    if not ts:
        raise ValueError(f"{path}: the recording has no frames")
    return float(ts[0]), float(ts[-1])


def replay_window(spec: RecordingScenario) -> ReplayWindow:
    """The window of `spec`: its own start_time/duration win over the scenario JSON's; missing values default to
    the start / the rest of the recording."""
    sj = _scenario_window(spec)
    start, duration, source = spec.start_time, spec.duration, "config"
    if sj is not None:
        if start is None and getattr(sj, "start_time", None) is not None:
            start, source = float(sj.start_time), "scenario_json"
        if duration is None and getattr(sj, "duration", None) is not None:
            duration, source = float(sj.duration), "scenario_json"
    ids = tuple(int(i) for i in (getattr(sj, "collision_actor_ids", None) or ())) if sj is not None else ()
    if start is None or duration is None:
        first, last = recording_span(spec.log)
        if start is None:
            start = first
        if duration is None:
            duration = max(last - start, 0.0) + 1.0 / spec.fps
            source = "recording" if source == "config" else source
    return ReplayWindow(float(start), float(duration), float(spec.fps), source, ids)


def _color(aid: int, attrs: dict) -> tuple[int, int, int]:
    c = attrs.get("color")
    if c:
        try:
            r, g, b = (int(float(x)) for x in c.split(","))
            return (r, g, b)
        except ValueError:
            pass
    rng = np.random.default_rng(aid)
    return tuple(int(x) for x in rng.integers(40, 220, 3))


def _first_contacts(rec: Recording, keep: set[int], t0: float, t1: float) -> list[Event]:
    pairs: dict[tuple[int, int], list[float]] = {}
    heroes: dict[tuple[int, int], bool] = {}
    for c in rec.collisions:
        key = (min(c.actor1, c.actor2), max(c.actor1, c.actor2))
        pairs.setdefault(key, []).append(c.time)
        heroes[key] = heroes.get(key, False) or c.hero1 or c.hero2
    events = []
    for (a, b), ts in sorted(pairs.items(), key=lambda kv: min(kv[1])):
        first, last = min(ts), max(ts)
        if last < t0 or first > t1:
            continue
        ids = [i for i in (a, b) if i in keep]
        if not ids:
            continue
        details = {"source": "recorder", "contacts": len(ts), "hero": heroes[(a, b)]}
        if len(ids) < 2:
            details["other_id"] = b if ids == [a] else a
        events.append(Event("collision", ids, first, last, details))
    return events


def _closest_approach(actors: dict[int, Actor], ids: tuple[int, ...], times: np.ndarray) -> float:
    cs = [actors[i].box_centers() for i in ids[:2]]
    d = np.linalg.norm(cs[0][:, :2] - cs[1][:, :2], axis=1)
    return float(times[int(np.argmin(d))])


def scene_from_recording(spec: RecordingScenario) -> Scene:
    """Build the Scene of a recording scenario (see module docstring). Raises ValueError when the window lies
    outside the recording, naming the file and the recording's time span."""
    win = replay_window(spec)
    times = win.times
    rec = load_recording(spec.log, start=float(times[0]), end=float(times[-1]))
    if len(rec.times) == 0:
        raise ValueError(f"{spec.log}: the recording has no frame before {times[-1]:.3f} s")
    # the reader stops after the window, so compare with the last frame it saw
    if times[0] > float(rec.times[-1]) + 1.0 / win.fps:
        raise ValueError(f"{spec.log}: window start {times[0]:.3f} s is after the recording's end "
                         f"({float(rec.times[-1]):.3f} s); fix start_time in {spec.scenario_json or 'the config'}")
    if float(rec.times[-1]) < times[-1]:
        end = float(rec.times[-1])
        keep_t = times[times <= end + 1e-9]
        if len(keep_t) < len(times):
            log.warning("%s: window ends at %.3f s but the recording ends at %.3f s; clipping to %d frames",
                        spec.log, times[-1], end, len(keep_t))
            times = keep_t
    t0, t1 = float(times[0]), float(times[-1])
    poses = trajectories(rec, times)
    actors: dict[int, Actor] = {}
    sizes_used: dict[str, int] = {}
    for aid, info in sorted(rec.actors.items()):
        if info.kind not in _ANNOTATED_KINDS:
            continue
        cat = category_of(info.type_id, info.kind)
        if cat is None:
            continue
        a_first = float(rec.times[info.first_frame])
        a_last = float(rec.times[info.last_frame])
        if a_last < t0 - 1e-9 or a_first > t1 + 1e-9:
            continue
        if aid in poses:
            p = poses[aid]
        else:
            p = np.repeat(info.spawn[None], len(times), axis=0)
        size, offset, src = actor_size(info.type_id, rec.bounding_boxes.get(aid), info.kind)
        sizes_used[src] = sizes_used.get(src, 0) + 1
        attrs = dict(info.attributes)
        if a_first > t0 + 1e-9 or (info.deleted and a_last < t1 - 1e-9):
            attrs["alive"] = [a_first, a_last]
        states = None
        if cat == "traffic_light" and aid in rec.light_states:
            states = states_at(rec.light_states[aid], times)
        actors[aid] = Actor(id=int(aid), type_id=info.type_id, category=cat, size=size, poses=p,
                            box_offset=offset, color=_color(aid, info.attributes), size_source=src, states=states,
                            attributes=attrs)
    events = _first_contacts(rec, set(actors), t0, t1)
    if win.collision_actor_ids:
        wanted = set(win.collision_actor_ids)
        matched = [e for e in events if wanted & set(e.actor_ids)]
        for e in matched:
            e.details["scenario_json"] = True
        present = tuple(i for i in win.collision_actor_ids if i in actors)
        if not matched and len(present) >= 2:
            tc = _closest_approach(actors, present, times)
            events.append(Event("collision", list(present), tc, tc,
                                {"source": "scenario_json", "time": "closest approach (no Collision packet)"}))
        elif not matched:
            log.warning("%s: collision_actor_ids %s are not actors of the window", spec.log,
                        list(win.collision_actor_ids))
    if spec.xodr is not None:  # the recording's own road network
        layout = layout_from_xodr(spec.xodr)
    # recordings exported from built-in scenes name their layout instead of a CARLA map
    elif rec.map_name in LAYOUTS:
        layout = build_layout(rec.map_name, 0)
    else:
        layout = layout_for_map(rec.map_name)
    log.info("%s: %d actors (sizes %s), %d events, %d frames at %.3g fps from %.3f s", spec.log.name, len(actors),
             sizes_used, len(events), len(times), win.fps, t0)
    return Scene(
        name=spec.id,
        map_name=rec.map_name,
        times=times,
        ground=layout.ground,
        props=list(layout.props),
        actors=list(actors.values()),
        events=events,
        lights=list(layout.lights),
        source=f"recording:{spec.log.name}",
        source_path=str(spec.log),
    )
