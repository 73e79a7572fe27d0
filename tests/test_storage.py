"""Output locations (sdg.storage) on a local folder and on a real S3 API (moto in server mode on 127.0.0.1): atomic
publish, listing, clear errors; per-clip files and the manifest (sdg.export.shards) on S3."""
from __future__ import annotations

import hashlib
import json
import threading

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from conftest import small_job
from test_shards import _table

from sdg.config import ConfigError, parse_config
from sdg.export.shards import FRAMES, Manifest, write_clip, write_shard
from sdg.model import ROW_SCHEMA
from sdg.storage import Location, StorageError, open_location


# ------------------------------------------------------------------------------------------------ URIs
def test_uris_parse_without_io_and_refuse_credentials_and_options(tmp_path):
    loc = open_location("s3://bucket/some/prefix/")
    assert (loc.scheme, loc.bucket, loc.root, loc.uri) == ("s3", "bucket", "bucket/some/prefix", "s3://bucket/some/prefix")
    assert loc.path("shards/a.parquet") == "bucket/some/prefix/shards/a.parquet"
    assert loc.display("manifest.json") == "s3://bucket/some/prefix/manifest.json"
    assert open_location(f"file://{tmp_path}").local and open_location(str(tmp_path)).root == str(tmp_path)
    assert open_location(open_location("gs://b/x")) == Location("gs://b/x")
    with pytest.raises(StorageError, match="credentials do not belong") as e:
        open_location("s3://AKIAEXAMPLE:very-secret-key@bucket/x")
    assert "very-secret-key" not in str(e.value) and "s3://***@bucket/x" in str(e.value)
    with pytest.raises(StorageError, match="AWS_ENDPOINT_URL"):
        open_location("s3://bucket/x?endpoint_override=127.0.0.1:9000")
    with pytest.raises(StorageError, match="no bucket"):
        open_location("s3:///x")


def test_config_refuses_credentials_in_output_dir():
    with pytest.raises(ConfigError, match="output.dir") as e:
        parse_config(small_job(output={"dir": "s3://KEYID:s3cr3t-value@bucket/run"}))
    assert "s3cr3t-value" not in str(e.value) and "credentials do not belong" in str(e.value)
    assert parse_config(small_job(output={"dir": "s3://bucket/run1"})).output.dir == "s3://bucket/run1"


# ------------------------------------------------------------------------------------------------ local
def test_local_publish_is_atomic_and_hashes(tmp_path):
    loc = open_location(tmp_path / "out")
    loc.check_writable()
    pub = loc.write_bytes("a/b.bin", b"x" * 1000)
    assert pub.size == 1000 and pub.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()
    assert loc.list() == {"a/b.bin": 1000} and loc.read_bytes("a/b.bin") == b"x" * 1000

    def broken(f):
        f.write(b"half of it")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        loc.publish("a/c.bin", broken)
    assert loc.list() == {"a/b.bin": 1000}  # neither the file nor its temp file
    with pytest.raises(RuntimeError):
        loc.publish("a/b.bin", broken)  # a failed rewrite leaves the old file whole
    assert loc.read_bytes("a/b.bin") == b"x" * 1000


@pytest.mark.parametrize("where", ["/proc/forbidden/out", "FILE"])
def test_local_location_that_cannot_be_written(tmp_path, where):
    if where == "FILE":
        where = tmp_path / "a-file"
        where.write_text("not a folder")
    with pytest.raises(StorageError) as e:
        open_location(where).check_writable()
    msg = str(e.value)
    assert str(where) in msg and "--output" in msg and "\n" not in msg


def test_fsspec_filesystems_work_through_the_same_interface():
    loc = open_location("memory://sdg-test/run")
    pub = loc.write_bytes("shards/x.bin", b"abc")
    assert pub.size == 3 and loc.exists("shards/x.bin") and loc.read_bytes("shards/x.bin") == b"abc"
    assert loc.list("shards") == {"shards/x.bin": 3}
    loc.delete("shards/x.bin")
    assert loc.list() == {}


# ------------------------------------------------------------------------------------------------ S3 (moto)
def test_s3_missing_bucket_and_dead_endpoint_are_one_clear_line(s3_env, monkeypatch):
    with pytest.raises(StorageError) as e:
        open_location("s3://missing-bucket/x").check_writable()
    msg = str(e.value)
    assert "bucket 'missing-bucket' does not exist" in msg and s3_env.url in msg and "\n" not in msg
    assert s3_env.env()["AWS_SECRET_ACCESS_KEY"] not in msg
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(StorageError, match=r"127\.0\.0\.1:9.*cannot reach"):
        open_location("s3://dead-endpoint-bucket/x").check_writable()


def test_s3_publish_is_atomic_for_readers(s3_env):
    bucket = s3_env.make_bucket("atomic-publish")
    loc = open_location(f"s3://{bucket}/run")
    loc.check_writable()
    assert s3_env.keys(bucket) == {}  # the probe left nothing
    half_written, release = threading.Event(), threading.Event()
    seen_during = {}

    def slow(f):
        f.write(b"a" * 5000)
        half_written.set()
        release.wait(30)
        f.write(b"b" * 5000)

    th = threading.Thread(target=lambda: seen_during.setdefault("pub", loc.publish("shards/part-x.parquet", slow)))
    th.start()
    assert half_written.wait(30)
    seen_during["keys"] = s3_env.keys(bucket)
    release.set()
    th.join(30)
    assert seen_during["keys"] == {}  # while the content is being written, nothing is visible at all
    assert s3_env.keys(bucket) == {"run/shards/part-x.parquet": 10000}  # then the whole file, no temp key
    assert seen_during["pub"].sha256 == hashlib.sha256(b"a" * 5000 + b"b" * 5000).hexdigest()

    def broken(f):
        f.write(b"partial")
        raise OSError("connection reset")

    with pytest.raises(OSError):
        loc.publish("shards/part-y.parquet", broken)
    assert list(s3_env.keys(bucket)) == ["run/shards/part-x.parquet"]


def test_clip_files_and_manifest_on_s3(s3_env):
    bucket = s3_env.make_bucket("clips")
    uri = f"s3://{bucket}/job1"
    m = Manifest(uri, job="j")
    # two tables of one clip, published together; the manifest lists both
    from sdg.model import VIDEO_SCHEMA

    with pytest.raises(ValueError, match="schema differs.*VIDEO_SCHEMA"):  # checked before anything is written
        write_clip(uri, "a", {FRAMES: _table("a"), "videos": pa.table({"clip_id": ["a"], "frames": [6]})})
    assert not s3_env.keys(bucket, "job1/")
    videos = pa.Table.from_pylist([{"clip_id": "a", "variant": -1}], schema=VIDEO_SCHEMA)
    entry = write_clip(uri, "a", {FRAMES: _table("a"), "videos": videos})
    assert set(entry["files"]) == {"frames", "videos"} and entry["shard"] == "shards/part-a.parquet"
    assert entry["files"]["videos"]["path"] == "videos/part-a.parquet" and entry["files"]["videos"]["rows"] == 1
    m.commit(entry)
    # a crash after publishing clip b but before its commit, and a stray temp key
    write_shard(uri, "b", _table("b"))
    s3_env.client().put_object(Bucket=bucket, Key="job1/shards/.part-c.parquet.1234.tmp", Body=b"half")
    m2 = Manifest(uri, job="j")
    assert m2.is_committed("a") and not m2.is_committed("b")
    assert sorted(p.name for p in m2.clean_uncommitted()) == [".part-c.parquet.1234.tmp", "part-b.parquet"]
    assert sorted(s3_env.keys(bucket, "job1/")) == ["job1/manifest.json", "job1/shards/part-a.parquet",
                                                    "job1/videos/part-a.parquet"]
    man = json.loads(s3_env.client().get_object(Bucket=bucket, Key="job1/manifest.json")["Body"].read())
    assert man["format"] == 2 and man["location"] == uri and man["clips"]["a"]["rows"] == 3
    # the rows read back with plain pyarrow from the same URI (what users do), sizes and hashes as recorded
    fs = m2.location.fs
    t = pads.dataset(f"{bucket}/job1/shards", filesystem=fs, format="parquet").to_table()
    assert t.schema.equals(ROW_SCHEMA) and t["frame_index"].to_pylist() == [0, 1, 2]
    data = m2.location.read_bytes("shards/part-a.parquet")
    assert hashlib.sha256(data).hexdigest() == man["clips"]["a"]["sha256"] and len(data) == man["clips"]["a"]["bytes"]
    assert pq.read_table(m2.location.open_input("videos/part-a.parquet")).to_pylist() == videos.to_pylist()
    # a lost file makes the clip uncommitted (it is redone)
    s3_env.client().delete_object(Bucket=bucket, Key="job1/videos/part-a.parquet")
    assert m2.missing_files("a") == ["videos/part-a.parquet"] and not m2.is_committed("a")
