"""notebooks/walkthrough.ipynb: executed from scratch, headless, in a temporary working directory, on a kernel of
this interpreter (nbclient + ipykernel); every cell runs, the pictures and tables it shows are there and agree with
the files it wrote. The committed notebook carries the outputs of such a run (for readers on GitHub).

Refresh the committed outputs after changing the notebook or the library: ``python tests/test_notebook.py``.
"""
from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "walkthrough.ipynb"
KERNEL = "sdg-walkthrough"  # a kernelspec made for the run, pointing at this interpreter
# cells by tag: "image" cells show at least one PNG; "duckdb-frames" lists the frames per (clip, variant)
MIN_HTML_TABLES = 15


def execute(path: Path, workdir: Path) -> "nbformat.NotebookNode":  # noqa: F821 - imported inside
    """Run every cell of the notebook at ``path`` in ``workdir`` on a fresh kernel of ``sys.executable``; raises
    nbclient's CellExecutionError naming the cell when one fails. Returns the notebook with its outputs."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient

    kernels = workdir / ".kernels"
    spec_dir = kernels / KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "sdg (this venv)", "language": "python"}))
    km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]))
    nb = nbformat.read(path, as_version=4)
    env = {**os.environ, "HF_HOME": str(workdir / ".hf"), "HF_HUB_OFFLINE": "1", "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    repo = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([repo, *filter(None, [os.environ.get("PYTHONPATH")])])
    client = NotebookClient(nb, km=km, timeout=900, record_timing=False, resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return nb


def cells_tagged(nb, tag: str) -> list:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def pngs(cell) -> list[np.ndarray]:
    import base64

    out = []
    for o in cell.get("outputs", []):
        data = o.get("data", {}).get("image/png")
        if data:
            img = cv2.imdecode(np.frombuffer(base64.b64decode(data), np.uint8), cv2.IMREAD_COLOR)
            assert img is not None, "an image/png output that does not decode"
            out.append(img)
    return out


def text_of(cell, mime: str = "text/plain") -> str:
    parts = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            if mime == "text/plain":
                parts.append(o.get("text", ""))
        else:
            v = o.get("data", {}).get(mime)
            if v:
                parts.append(v if isinstance(v, str) else "".join(v))
    return "".join(parts)


def check_outputs(nb) -> None:
    """What a reader sees: no error, every picture, the tables."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "cells not run in order, once each"
    for c in code:
        for o in c.get("outputs", []):
            assert o["output_type"] != "error", f"cell failed: {c.source[:80]!r}"
            if o["output_type"] == "stream" and o["name"] == "stderr":
                assert "Traceback" not in o["text"] and "Error" not in o["text"], o["text"][:500]
    images = cells_tagged(nb, "image")
    assert len(images) >= 8
    for c in images:
        shown = pngs(c)
        assert shown, f"image cell produced no image/png: {c.source[:80]!r}"
        for img in shown:
            assert img.shape[0] >= 120 and img.shape[1] >= 300, img.shape
            assert img.std() > 20, "a flat picture"
    tables = [c for c in code if "<table" in text_of(c, "text/html")]
    assert len(tables) >= MIN_HTML_TABLES, f"{len(tables)} cells show a table"


def frames_per_clip_variant(nb) -> Counter:
    """The (clip, variant) -> frames the DuckDB cell shows."""
    (cell,) = cells_tagged(nb, "duckdb-frames")
    shown = Counter()
    for line in text_of(cell).splitlines():
        m = re.match(r"\s*\d+\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s*$", line)
        if m:
            shown[(m[1], int(m[2]))] = int(m[3])
    return shown


@pytest.mark.slow
def test_walkthrough_executes_and_shows_its_pictures(tmp_path):
    import pyarrow.dataset as pads

    nb = execute(NOTEBOOK, tmp_path)
    check_outputs(nb)
    out = tmp_path / "out" / "walkthrough"
    # the DuckDB query's rows are the shards' rows: 2 clips x 2 variants x 30 frames
    t = pads.dataset(out / "shards").to_table(columns=["clip_id", "variant"])
    expected = Counter(zip(t["clip_id"].to_pylist(), t["variant"].to_pylist()))
    assert expected == {(c, v): 30 for c in ("collision-01.corner", "jaywalk-01.corner") for v in (0, 1)}
    assert frames_per_clip_variant(nb) == expected
    # the datasets cell loaded both splits from the dataset card
    text = "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")
    assert re.search(r"train: Dataset\(\{\s+features: \[.*?\],\s+num_rows: 60", text, re.S)
    assert re.search(r"test: Dataset\(\{\s+features: \[.*?\],\s+num_rows: 60", text, re.S)
    # both scenarios' events reached the rows; the exports the last cells read exist
    assert "collision" in text and "jaywalking" in text
    for name in ("llava_train.json", "aicity_train.json", "wts_captions_train.json", "qa/test.jsonl"):
        assert (out / "exports" / name).stat().st_size > 0


def test_committed_notebook_has_its_outputs():
    """The notebook in the repository shows its pictures without running it (GitHub renders the outputs)."""
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    check_outputs(nb)
    assert len(frames_per_clip_variant(nb)) == 4


if __name__ == "__main__":  # refresh the committed outputs: run from the repository root
    with tempfile.TemporaryDirectory() as d:
        import nbformat

        executed = execute(NOTEBOOK, Path(d))
        check_outputs(executed)
        nbformat.write(executed, NOTEBOOK)
        print(f"wrote {NOTEBOOK} with outputs")
