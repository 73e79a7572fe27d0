"""placeholder"""


def report_job() -> dict:
    """Two built-in scenarios (a collision with its red-light runner, a wrong-way driver: three event kinds and a
    hard-negative pair), 320x180 at 4 fps for 3 s, two variants, every export."""
    corner = {"name": "corner", "width": 320, "height": 180, "fov": 90.0, "location": [-13.0, -13.0, 9.5],
              "rotation": [0.0, -26.0, 45.0]}
    common = {"duration": 3.0, "fps": 4.0, "vehicles": 8, "pedestrians": 6, "cameras": ["corner"]}
    return {
        "name": "report", "seed": 5, "cameras": [corner],
        "scenarios": [{"id": "col", "scenario": "collision", "seed": 1, **common},
                      {"id": "ww", "scenario": "wrong_way", "seed": 2, **common}],
        "augmentation": {"variants": 2},
        "splits": {"train": 0.5, "validation": 0.0, "test": 0.5},
        "resources": {"num_cpus": 2, "simulator_cpus": 0.5, "stage_cpus": 0.25},
        "output": {"exports": ["llava", "video"]},
    }
