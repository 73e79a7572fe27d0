"""gs:// outputs against a real GCS JSON API on 127.0.0.1 (gcp-storage-emulator, started by the test as its own
process and stopped at the end): a job written to gs://, every row read back, nothing temporary left, a missing
bucket is one clear line. pyarrow's GcsFileSystem talks to it because STORAGE_EMULATOR_HOST is set, the variable
Google's client libraries read."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port, small_job

from sdg.config import parse_config
from sdg.storage import StorageError, open_location


@pytest.fixture(scope="module")
def gcs(tmp_path_factory):
    exe = shutil.which("gcp-storage-emulator", path=str(Path(sys.executable).parent)) or shutil.which(
        "gcp-storage-emulator")
    if exe is None:
        pytest.fail("gcp-storage-emulator is not installed (it is in the test extras of pyproject.toml)")
    port = free_port()
    log = (tmp_path_factory.mktemp("gcs") / "gcs.log").open("w")
    proc = subprocess.Popen([exe, "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b?project=test", timeout=1)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"the GCS emulator did not start on {url}")
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def _make_bucket(url: str, name: str) -> None:
    req = urllib.request.Request(f"{url}/storage/v1/b?project=test", data=json.dumps({"name": name}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    assert urllib.request.urlopen(req, timeout=10).status == 200


def _keys(url: str, bucket: str) -> list[str]:
    with urllib.request.urlopen(f"{url}/storage/v1/b/{bucket}/o", timeout=10) as r:
        return sorted(o["name"] for o in json.loads(r.read()).get("items", []))


def test_a_job_writes_to_gs_and_every_row_reads_back(gcs, monkeypatch):
    from sdg.export.shards import Manifest
    from sdg.run import run_job

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs)
    _make_bucket(gcs, "sdg-gs")
    uri = "gs://sdg-gs/tiny"
    res = run_job(parse_config(small_job(output={"exports": ["coco"]})), uri, executor="local")
    assert res.ok and res.committed == ["col.corner"] and res.out_dir == uri
    keys = _keys(gcs, "sdg-gs")
    assert {"tiny/manifest.json", "tiny/shards/part-col.corner.parquet", "tiny/exports/coco_train.json"} <= set(keys)
    assert not [k for k in keys if k.rsplit("/", 1)[-1].startswith(".")]  # no temporary or probe keys left
    m = Manifest(uri)
    t = m.read_table(m.files()[0])
    assert t.num_rows == 12  # 6 frames x 2 variants
    assert sorted(zip(t["variant"].to_pylist(), t["frame_index"].to_pylist())) == [(v, f) for v in (0, 1)
                                                                                    for f in range(6)]
    coco = json.loads(m.location.read_bytes("exports/coco_train.json"))
    assert len(coco["images"]) == 12 and all(f"tiny/exports/{i['file_name']}" in keys for i in coco["images"])
    again = run_job(parse_config(small_job(output={"exports": ["coco"]})), uri, executor="local")
    assert again.committed == [] and again.skipped == ["col.corner"]  # resumed from the bucket's manifest


def test_a_missing_gs_bucket_is_one_clear_line(gcs, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs)
    with pytest.raises(StorageError) as e:
        open_location("gs://no-such-bucket/run").check_writable()
    msg = str(e.value)
    assert "\n" not in msg and "bucket 'no-such-bucket' does not exist" in msg
    assert "gcloud storage buckets create gs://no-such-bucket" in msg
