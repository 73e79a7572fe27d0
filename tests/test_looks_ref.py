"""The built-in looks keep their pictures: every look the augmenter can produce, rendered on a fixed small clip with
fixed seeds, against reference PNGs made by the looks code before it was split and sped up (issue 8).

The input (tests/data/looks_ref/input.npz) is a 3-frame 240x135 clip of the built-in "traffic" scenario on the
intersection layout, seen by the default corner camera, rendered by sdg.render with its lamps projected by
sdg.augment.lights (``make_input`` below; stored so the test does not depend on the simulator's pixels). Each
reference PNG holds the 3 output frames stacked vertically.

- ``<weather>_<lighting>_<road>.png``: sensor noise off, for every weather x lighting x road, except rain/*/dry (rain
  wets the road whatever ``road`` says, so rain/X/dry renders exactly like rain/X/wet and is checked against that
  file) and clear/day/dry (the identity without sensor: checked against the input).
- ``<weather>_<lighting>_<road>_sensor.png``: sensor noise and vignetting on (as in production), for two looks.

Regenerate (only for a deliberate change of the pictures, and say why in the commit):
``PYTHONPATH=. python tests/test_looks_ref.py --regenerate``.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from sdg.augment.base import Look
from sdg.augment.looks import LIGHTINGS, ROADS, WEATHERS, render_look

REF = Path(__file__).parent / "data" / "looks_ref"
WIDTH, HEIGHT, FRAMES = 240, 135, 3
MIN_PSNR_DB = 35.0
SENSOR_LOOKS = (("clear", "day", "dry"), ("rain", "night", "wet"))
ALL_LOOKS = list(itertools.product(WEATHERS, LIGHTINGS, ROADS))


def look_seed(weather: str, lighting: str, road: str) -> int:
    """A fixed seed per weather x lighting (the road only wets: rain/X/dry and rain/X/wet must render alike)."""
    return 1000 + 10 * WEATHERS.index(weather) + LIGHTINGS.index(lighting)


def ref_name(weather: str, lighting: str, road: str, sensor: bool) -> str | None:
    """The reference file a look is checked against (None: the input itself)."""
    if weather == "rain" and not sensor:
        road = "wet"
    if (weather, lighting, road, sensor) == ("clear", "day", "dry", False):
        return None
    return f"{weather}_{lighting}_{road}{'_sensor' if sensor else ''}.png"


def cases() -> list[tuple[str, str, str, bool]]:
    return [(*wlr, False) for wlr in ALL_LOOKS] + [(*wlr, True) for wlr in SENSOR_LOOKS]


def make_input(width: int = WIDTH, height: int = HEIGHT, frames: int = FRAMES) -> dict[str, np.ndarray]:
    """The fixed input clip, made with the built-in simulator (deterministic)."""
    from sdg.augment.lights import project_lights
    from sdg.config import BuiltinScenario
    from sdg.geometry import Camera
    from sdg.render.renderer import render_clip
    from sdg.scenario.builtin import DEFAULT_CAMERA, build_scene

    scene = build_scene(BuiltinScenario(id="looks_ref", scenario="traffic", seed=3, duration=1.0, fps=10.0,
                                        vehicles=10, pedestrians=6))
    c = DEFAULT_CAMERA
    cam = Camera(c.name, width, height, c.fov, c.location, c.rotation)
    clip = render_clip(scene, cam, range(frames))
    lights = project_lights(scene, cam, range(frames))
    return {"rgb": clip.rgb, "depth": clip.depth, "semantic": clip.semantic, "fov": np.float64(cam.fov),
            **{f"lights_{i}": np.asarray(x, np.float32) for i, x in enumerate(lights)}}


def load_input() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], float]:
    with np.load(REF / "input.npz") as z:
        lights = [z[f"lights_{i}"] for i in range(z["rgb"].shape[0])]
        return z["rgb"], z["depth"], z["semantic"], lights, float(z["fov"])


def render_case(inp, weather: str, lighting: str, road: str, sensor: bool) -> np.ndarray:
    rgb, depth, sem, lights, fov = inp
    look = Look(weather, lighting, road, seed=look_seed(weather, lighting, road), variant=0)
    return render_look(rgb, depth, sem, look, lights=lights, fov=fov, sensor=sensor)


def read_ref(name: str | None, inp) -> np.ndarray:
    if name is None:
        return inp[0]
    img = cv2.imread(str(REF / name), cv2.IMREAD_COLOR)
    assert img is not None, f"missing reference {REF / name}"
    return img[..., ::-1].reshape(inp[0].shape)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def ref_input():
    return load_input()


@pytest.mark.parametrize("weather,lighting,road,sensor", cases(),
                         ids=[f"{w}-{li}-{r}{'-sensor' if s else ''}" for w, li, r, s in cases()])
def test_look_matches_reference(ref_input, weather, lighting, road, sensor):
    out = render_case(ref_input, weather, lighting, road, sensor)
    ref = read_ref(ref_name(weather, lighting, road, sensor), ref_input)
    assert out.shape == ref.shape and out.dtype == np.uint8
    value = psnr(out, ref)
    assert value >= MIN_PSNR_DB, f"{weather}/{lighting}/{road} sensor={sensor}: PSNR {value:.1f} dB"


def regenerate() -> None:
    """Write input.npz and every reference PNG from the current code."""
    REF.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REF / "input.npz", **make_input())
    inp = load_input()
    for case in cases():
        name = ref_name(*case)
        if name is None:
            continue
        out = render_case(inp, *case)
        cv2.imwrite(str(REF / name), out.reshape(-1, WIDTH, 3)[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    total = sum(f.stat().st_size for f in REF.iterdir())
    print(f"{len(list(REF.iterdir()))} files, {total / 1e6:.2f} MB in {REF}")


def report() -> None:
    """PSNR of every case against its reference."""
    inp = load_input()
    for case in cases():
        value = psnr(render_case(inp, *case), read_ref(ref_name(*case), inp))
        print(f"{'/'.join(case[:3]) + (' sensor' if case[3] else ''):<26} {value:6.1f} dB")


if __name__ == "__main__":
    regenerate() if "--regenerate" in sys.argv else report()
