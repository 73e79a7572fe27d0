"""Keep augmented variants answerable: measure how many marked objects a look leaves lost (survival below
SURVIVAL_LOST), and when it is too many, pick a milder look to re-draw the variant with.

Mildness: a look's severity is rank(weather) + rank(lighting), with weather clear 0 < rain 1 < snow 2 < fog 3
(fog veils the far scene, the demo's day fog lost 73 % of its marks) and lighting day 0 < dusk 1 < night 2. A
re-draw keeps the road, takes the most severe allowed (weather, lighting) pair that is strictly milder than the
current one (several: a seeded choice) and a new seed; with nothing milder allowed it keeps the look.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

from sdg.augment.base import AugmentRequest, Look
from sdg.seeds import stable_seed
from sdg.som.survival import SURVIVAL_LOST, survival_scores

WEATHER_RANK = {"clear": 0, "rain": 1, "snow": 2, "fog": 3}
LIGHTING_RANK = {"day": 0, "dusk": 1, "night": 2}


def severity(look: Look) -> int:
    return WEATHER_RANK.get(look.weather, 3) + LIGHTING_RANK.get(look.lighting, 2)


def clip_survival(rgb: np.ndarray, frames: Sequence[np.ndarray], objects: Sequence[Sequence], instance: np.ndarray
                  ) -> list[dict[int, float]]:
    """Per frame {actor id: survival} of the marked objects (sdg.som.survival.survival_scores)."""
    return [survival_scores(rgb[t], frames[t], objects[t], instance[t]) for t in range(len(frames))]


def lost_fraction(scores: Sequence[dict[int, float]]) -> float:
    """Fraction of the (object, frame) survival scores below SURVIVAL_LOST (0 when nothing was scored)."""
    values = [s for frame in scores for s in frame.values()]
    return float(np.mean([s < SURVIVAL_LOST for s in values])) if values else 0.0


def milder_look(look: Look, weather: Sequence[str], lighting: Sequence[str], *, seed: int, clip_id: str,
                attempt: int) -> Look | None:
    """A milder look than `look` from the allowed lists (see the module docstring), or None when none is."""
    cur = severity(look)
    pairs = [(w, li) for w in weather for li in lighting if WEATHER_RANK.get(w, 3) + LIGHTING_RANK.get(li, 2) < cur]
    if not pairs:
        return None
    top = max(WEATHER_RANK.get(w, 3) + LIGHTING_RANK.get(li, 2) for w, li in pairs)
    tier = sorted(p for p in pairs if WEATHER_RANK.get(p[0], 3) + LIGHTING_RANK.get(p[1], 2) == top)
    rng = np.random.default_rng(stable_seed(seed, clip_id, look.variant, "redraw", attempt))
    w, li = tier[int(rng.integers(len(tier)))]
    road = "wet" if w in ("rain", "snow") else look.road
    return dataclasses.replace(look, weather=w, lighting=li, road=road, seed=int(rng.integers(0, 2**31 - 1)))


def keep_answerable(req: AugmentRequest, frames: np.ndarray, *, augment: Callable[[AugmentRequest], np.ndarray],
                    prompt: Callable[[Look], str], objects: Sequence[Sequence], instance: np.ndarray,
                    weather: Sequence[str], lighting: Sequence[str], seed: int, max_lost: float, attempts: int
                    ) -> tuple[AugmentRequest, np.ndarray, list[dict[int, float]], dict]:
    """Re-draw a variant with milder looks while its look leaves more than `max_lost` of the marked objects lost
    (at most `attempts` times). Returns the final request, its frames, their survival scores per frame and
    {"lost_fraction", "redraws": [{"look", "lost_fraction"} of each look given up]} for the provenance."""
    scores = clip_survival(req.rgb, frames, objects, instance)
    lost = lost_fraction(scores)
    history = []
    for attempt in range(attempts):
        if lost <= max_lost:
            break
        look = milder_look(req.look, weather, lighting, seed=seed, clip_id=req.clip_id, attempt=attempt)
        if look is None:
            break
        history.append({"look": dataclasses.asdict(req.look), "lost_fraction": round(lost, 4)})
        req = dataclasses.replace(req, look=look, prompt=prompt(look))
        frames = augment(req)
        scores = clip_survival(req.rgb, frames, objects, instance)
        lost = lost_fraction(scores)
    return req, frames, scores, {"lost_fraction": round(lost, 4), "redraws": history}
