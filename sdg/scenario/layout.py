"""The built-in road layouts by name, and CARLA map names -> the closest built-in layout.

    build_layout(name, seed) -> Layout          (names: LAYOUTS; built by sdg.scenario.junction)
    layout_for_map(map_name) -> Layout           (CARLA map names -> the closest built-in layout)

The layout data model (Layout, Lane, Crosswalk, WalkEdge, StaticActorSpec, STATIC_ID_BASE) lives in
sdg.scenario.layout_model; it is re-exported here for callers that import it from this module.
"""
from __future__ import annotations

import functools
import logging
import re

from sdg.scenario import junction
from sdg.scenario.layout_model import STATIC_ID_BASE, Crosswalk, Lane, Layout, StaticActorSpec, WalkEdge

__all__ = ["LAYOUTS", "build_layout", "layout_for_map",
           # the data model, re-exported from sdg.scenario.layout_model
           "STATIC_ID_BASE", "Crosswalk", "Lane", "Layout", "StaticActorSpec", "WalkEdge"]

log = logging.getLogger(__name__)

_BUILDERS = {
    "intersection": junction.intersection,
    "t_junction": junction.t_junction,
    "straight": junction.straight,
    "arterial": junction.arterial,
}


LAYOUTS: dict[str, str] = {
    "intersection": "signalised 4-way intersection, 2 lanes each way, zebra crossings, buildings on 4 corners",
    "t_junction": "signalised T junction: a 2+2 lane main road (east-west) and a side road to the south",
    "straight": "a straight 2+2 lane street with a signalised mid-block pedestrian crossing",
    "arterial": "a 3+3 lane arterial with a planted median crossing a 2+2 lane street at a signalised junction",
}


@functools.lru_cache(maxsize=4)
def _build_cached(name: str, seed: int) -> Layout:
    return _BUILDERS[name](seed)


def build_layout(name: str, seed: int = 0) -> Layout:
    """The named layout, deterministic in `seed` (building sizes/colours, trees, textures). Layouts are cached and
    shared: treat the returned object (and its arrays) as read-only."""
    if name not in LAYOUTS:
        raise ValueError(f"unknown layout {name!r}; known layouts: {sorted(LAYOUTS)}")
    return _build_cached(name, int(seed))


# CARLA towns -> the built-in layout that resembles their typical junctions.
_MAP_LAYOUTS = {
    "town01": "t_junction",  # small town, T junctions, single lanes
    "town02": "t_junction",
    "town03": "intersection",  # urban grid (and a roundabout)
    "town04": "arterial",  # multi-lane roads around a town
    "town05": "arterial",  # multi-lane grid
    "town06": "straight",  # long multi-lane roads
    "town07": "straight",  # rural roads
    "town10": "intersection",  # downtown 4-way junctions
    "town10hd": "intersection",
    "town11": "straight",
    "town12": "arterial",
    "town13": "arterial",
    "town15": "arterial",
}


def layout_for_map(map_name: str) -> Layout:
    """The built-in layout that stands in for a CARLA map (e.g. "Town10HD_Opt", "/Game/Carla/Maps/Town03").
    Unknown names give the intersection, with a warning."""
    base = re.split(r"[/\\]", str(map_name).strip())[-1]
    key = re.sub(r"(_opt)$", "", base.lower())
    name = _MAP_LAYOUTS.get(key)
    if name is None:
        m = re.match(r"(town\d+)", key)
        name = _MAP_LAYOUTS.get(m.group(1)) if m else None
    if name is None:
        log.warning("no built-in layout for map %r; using 'intersection'", map_name)
        name = "intersection"
    lay = build_layout(name, 0)
    return lay
