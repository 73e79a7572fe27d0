import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sdg.export.shards import Manifest, shard_name, write_shard
from sdg.model import ROW_SCHEMA


def _table(clip="c1", n=3):
    rows = []
    for i in range(n):
        row = {f.name: None for f in ROW_SCHEMA}
        row.update(job="j", clip_id=clip, scenario_id="s", camera="cam", variant=0, frame_index=i,
                   timestamp=i * 0.1, image=b"\x00\x01" * 10, objects=[], events=[], qa=[], seed=1)
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=ROW_SCHEMA)


def test_write_shard_atomic_and_readable(tmp_path):
    entry = write_shard(tmp_path, "scen.cam", _table())
    path = tmp_path / entry["shard"]
    assert path.name == shard_name("scen.cam") and entry["rows"] == 3
    assert [p.name for p in (tmp_path / "shards").iterdir()] == [path.name]  # no temp file left
    t = pq.read_table(path)
    assert t.schema.equals(ROW_SCHEMA) and t["frame_index"].to_pylist() == [0, 1, 2]
    assert t["image"][0].as_py() == b"\x00\x01" * 10


def test_write_shard_rejects_foreign_schema(tmp_path):
    with pytest.raises(ValueError, match="schema"):
        write_shard(tmp_path, "x", pa.table({"a": [1]}))
    assert not (tmp_path / "shards").exists() or not any((tmp_path / "shards").iterdir())


def test_manifest_resume_and_cleanup(tmp_path):
    m = Manifest(tmp_path, job="j")
    m.commit(write_shard(tmp_path, "a", _table("a")))
    # a crash after writing shard b but before its commit, plus a stray temp file
    write_shard(tmp_path, "b", _table("b"))
    (tmp_path / "shards" / ".part-c.parquet.1.tmp").write_bytes(b"half")
    m2 = Manifest(tmp_path, job="j")
    assert m2.is_committed("a") and not m2.is_committed("b")
    removed = sorted(p.name for p in m2.clean_uncommitted())
    assert removed == [".part-c.parquet.1.tmp", "part-b.parquet"]
    assert [p.name for p in m2.shard_paths()] == ["part-a.parquet"]
    assert json.loads((tmp_path / "manifest.json").read_text())["clips"]["a"]["rows"] == 3


def test_manifest_of_another_job_refused(tmp_path):
    Manifest(tmp_path, job="j").save()
    with pytest.raises(ValueError, match="belongs to job"):
        Manifest(tmp_path, job="other")
