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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """moto in server mode (a real S3 API over HTTP) on 127.0.0.1, in its own process."""

    def __init__(self, log_path):
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1",
                                      "-p", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60.0) -> None:
        import time
        import urllib.request

        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=2).read()
                return
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.2)
        raise RuntimeError(f"moto_server did not answer at {self.url} within {timeout:g} s")

    def env(self) -> dict:
        """The environment a client of this server needs (what a user sets for a real endpoint)."""
        return {"AWS_ENDPOINT_URL": self.url, "AWS_ACCESS_KEY_ID": "sdg-test-key-id",
                "AWS_SECRET_ACCESS_KEY": "sdg-test-secret-0123456789", "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_EC2_METADATA_DISABLED": "true"}

    def client(self):
        import boto3

        e = self.env()
        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id=e["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=e["AWS_SECRET_ACCESS_KEY"], region_name=e["AWS_DEFAULT_REGION"])

    def make_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """{key: size} of every object under ``prefix`` (pyarrow's empty folder markers "dir/" left out)."""
        out = {}
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            out.update({o["Key"]: o["Size"] for o in page.get("Contents", []) if not o["Key"].endswith("/")})
        return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """One moto S3 server for the session (stopped at the end: exactly the process it started)."""
    srv = S3Server(tmp_path_factory.mktemp("moto") / "moto.log")
    yield srv
    srv.close()


@pytest.fixture()
def s3_env(s3_server, monkeypatch):
    """The standard AWS environment variables pointing at the moto server, for this test only."""
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    return s3_server
