import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """One small local Ray cluster shared by every test that needs Ray (ray.init(num_cpus=2))."""
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    if not ray.is_initialized():
        # address="local": always a fresh cluster of this process, never one a `ray start` left on the machine
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    try:
        from ray import serve

        serve.shutdown()
    except Exception:
        pass
    ray.shutdown()


def small_job(tmp_path=None, **over):
    """A tiny but complete job config dict: one built-in collision clip, 320x180, 6 frames, 2 variants."""
    cfg = {
        "name": "tiny",
        "seed": 11,
        "cameras": [{"name": "corner", "width": 320, "height": 180, "fov": 90.0,
                     "location": [-22.0, -22.0, 9.0], "rotation": [0.0, -22.0, 45.0]}],
        "scenarios": [{"id": "col", "scenario": "collision", "seed": 1, "duration": 3.0, "fps": 2.0,
                       "vehicles": 6, "pedestrians": 4}],
        "augmentation": {"variants": 2},
        "resources": {"num_cpus": 2, "simulator_cpus": 0.5, "stage_cpus": 0.25},
        "output": {"exports": ["coco", "odvg", "llava"]},
    }
    for k, v in over.items():
        cfg[k] = v
    return cfg
