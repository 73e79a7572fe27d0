"""The workflow's production stack, stood in by real local servers: a Cosmos-Transfer2.5 Gradio app that runs (and
announces) MODEL_NAME=edge, and two OpenAI-compatible NIMs on two ports serving exactly the stack's model ids
(`nvidia/cosmos-reason1-7b`, `nvidia/nvidia-nemotron-nano-9b-v2`) that answer with reasoning traces and sometimes
only repeat the instruction. `sdg run configs/demo_cosmos.yaml` must complete with no config edits, and nothing of a
trace or an echo may reach Cosmos; a job asking the edge server for `seg` must stop in preflight with one line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import small_job  # noqa: E402
from servers.cosmos_app import CosmosTestServer  # noqa: E402
from servers.openai_server import LLM_MODEL, VLM_MODEL, OpenAITestServer  # noqa: E402

from sdg.augment.prompts import DEFAULT_FILL_TEMPLATE, POLISH_INSTRUCTION, RETRY_REMINDER, refusal  # noqa: E402
from sdg.cli import main  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

REPO = Path(__file__).resolve().parents[1]
SECRET = "nvapi-STACK-SECRET-00112233445566"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("cosmos_edge")
    saved = {k: os.environ.get(k) for k in ("GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED")}
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio_tmp")
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    cosmos = CosmosTestServer(root, model="edge")
    cosmos.start()
    vlm = OpenAITestServer(models=(VLM_MODEL,), style="nemotron").start()
    llm = OpenAITestServer(models=(LLM_MODEL,), style="nemotron").start()
    yield cosmos, vlm, llm
    for s in (vlm, llm, cosmos):
        s.close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture()
def env(stack, monkeypatch):
    cosmos, vlm, llm = stack
    cosmos.reset()
    vlm.reset(style="nemotron")
    llm.reset(style="nemotron")  # echoes the instruction when the request's seed is even
    monkeypatch.setenv("SDG_COSMOS_URL", cosmos.url)
    monkeypatch.setenv("SDG_VLM_URL", vlm.url)
    monkeypatch.setenv("SDG_LLM_URL", llm.url)
    monkeypatch.setenv("NGC_API_KEY", SECRET)
    return stack


def _job(tmp_path: Path, **over) -> Path:
    cfg = small_job(backends={"augmenter": "cosmos", "prompts": "template"}, **over)
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


def test_an_edge_server_asked_for_seg_stops_the_preflight(env, tmp_path, capsys):
    cosmos = env[0]
    job = _job(tmp_path, augmentation={"variants": 2, "controls": ["seg"]})
    assert main(["check", str(job)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"[FAIL] Cosmos-Transfer {cosmos.url}: the server runs model 'edge' (MODEL_NAME=edge), which "
                     "takes the edge control only; augmentation.controls asks for ['seg'] — set "
                     "augmentation.controls: [edge] and endpoints.cosmos_model: edge, or restart the server with "
                     "MODEL_NAME=seg"]
    out = tmp_path / "never"
    assert main(["run", str(job), "--output", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines() == lines
    assert "error: preflight failed" in captured.err and "Traceback" not in captured.err
    assert not out.exists() and cosmos.generate_calls == 0 and cosmos.uploaded == []


def test_the_model_setting_against_what_the_server_announces(env, tmp_path, capsys):
    cosmos = env[0]
    job = _job(tmp_path, endpoints={"cosmos_model": "seg"})
    assert main(["check", str(job)]) == 1
    assert capsys.readouterr().out.strip() == (
        f"[FAIL] Cosmos-Transfer {cosmos.url}: the server runs model 'edge' (MODEL_NAME=edge) but "
        "endpoints.cosmos_model is 'seg' — set endpoints.cosmos_model: edge, or restart the server with MODEL_NAME=seg")
    # the job's default controls (edge, depth, seg) are left to the model: the edge server gets the edge control
    job = _job(tmp_path)
    assert main(["check", str(job)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"[ok  ] Cosmos-Transfer {cosmos.url}: API lists")
    assert line.endswith("; runs model 'edge' (announced by the server); sends ['edge']")


def test_the_edge_server_refuses_other_control_blocks(env):
    """The stand-in behaves as the real worker built with the edge hint key only: a depth block is an error."""
    import numpy as np

    from sdg.augment.base import AugmentRequest, Look
    from sdg.augment.cosmos import CosmosRequestError, CosmosTransferClient

    cosmos = env[0]
    rgb = np.full((4, 32, 48, 3), 100, np.uint8)
    req = AugmentRequest(clip_id="c", look=Look("fog", "day", "dry", 3, 0), prompt="a street", rgb=rgb,
                         depth=np.zeros((4, 32, 48), np.float32), semantic=np.zeros((4, 32, 48), np.uint8),
                         controls={"edge": rgb, "depth": rgb}, fps=4.0)
    blind = CosmosTransferClient(cosmos.url, retries=0, controls=["edge", "depth"])  # no model check: sends both
    blind.announced_model = lambda: None  # as a client that ignores what the server announces
    with pytest.raises(CosmosRequestError, match=r"hint keys \['edge'\]; the request carries \['depth'\]"):
        blind.augment(req)
    out = CosmosTransferClient(cosmos.url, retries=0).augment(req)  # the server's model decides: edge only
    assert out.shape == rgb.shape
    assert [k for k in ("edge", "depth") if k in cosmos.requests[-1]] == ["edge"]


@pytest.mark.slow
@pytest.mark.ray
def test_demo_cosmos_runs_unchanged_against_the_stack(ray_cluster, env, tmp_path, monkeypatch, capsys):
    cosmos, vlm, llm = env
    monkeypatch.chdir(REPO)
    out = tmp_path / "demo-cosmos"
    assert main(["run", "configs/demo_cosmos.yaml", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert lines[:3] == [
        f"[ok  ] NIM {vlm.url} ({VLM_MODEL}): ready, model served",
        f"[ok  ] NIM {llm.url} ({LLM_MODEL}): ready, model served",
        lines[2]]
    assert lines[2].startswith(f"[ok  ] Cosmos-Transfer {cosmos.url}: API lists")
    assert lines[2].endswith("; runs model 'edge' (announced by the server); sends ['edge']")
    summary = [ln for ln in lines if ln.startswith("sdg run demo-cosmos:")]
    assert summary == [summary[0]]
    assert summary[0].startswith("sdg run demo-cosmos: 2 clip(s) committed, 0 already done, 0 failed")
    assert lines.index(summary[0]) > 2  # after the preflight lines, before the per-stage table

    man = json.loads((out / "manifest.json").read_text())
    rows = [r for e in man["clips"].values() for r in pq.read_table(out / e["shard"]).to_pylist()]
    assert len(rows) == 2 * 2 * 30  # 2 clips x 2 variants x 30 frames of 960x540
    prompts = {(r["clip_id"], r["variant"]): r["prompt"] for r in rows}
    provenance = {(r["clip_id"], r["variant"]): json.loads(r["provenance"]) for r in rows}
    assert len(prompts) == 4

    # Cosmos: one generation per variant, the edge control only, and the variant's prompt as written to the rows
    assert cosmos.generate_calls == 4 and len(cosmos.requests) == 4
    for body in cosmos.requests:
        assert [k for k in ("edge", "vis", "depth", "seg") if k in body] == ["edge"]
        clip, variant = body["name"].rsplit("_v", 1)
        assert body["prompt"] == prompts[(clip, int(variant))]
    # ... and no reasoning trace and no instruction echo in any of them
    for text in (b["prompt"] for b in cosmos.requests):
        assert "think" not in text.lower() and "<" not in text and "Sure." not in text
        for fragment in ("Answer with the prompt only", "Rewrite the description", "Polish the video generation",
                         "Description:", "Weather:", RETRY_REMINDER[:40]):
            assert fragment not in text
        assert refusal(text, DEFAULT_FILL_TEMPLATE) is None and refusal(text, POLISH_INSTRUCTION) is None
        assert text.startswith("A traffic video of 15 frames at 640x360")  # the VLM's caption (4 fps, 640 px) ...
        assert "The weather is " in text and "The lighting is " in text  # ... with the variant's conditions

    # the NIMs: each got only its own model; the LLM was told /no_think and did answer with traces and echoes
    assert {r["body"]["model"] for r in vlm.chat_requests()} == {VLM_MODEL} and len(vlm.chat_requests()) == 2
    llm_bodies = [r["body"] for r in llm.chat_requests()]
    assert {b["model"] for b in llm_bodies} == {LLM_MODEL}
    assert all(b["messages"][0]["role"] == "system" and b["messages"][0]["content"].startswith("/no_think")
               for b in llm_bodies)
    kinds = [k for _, k in llm.answers]
    assert kinds.count("echo") >= 1, llm.answers  # the stand-in did repeat the instruction ...
    assert len(llm_bodies) == 8 + kinds.count("echo")  # ... and each echo was asked again once
    refused = [p for p in provenance.values() if "prompt_refused" in p or "polish_refused" in p]
    assert len(refused) == len({s for s, k in llm.answers if k == "echo"})  # one look seed: its fill and polish
    for p in provenance.values():
        assert p["prompt_origin"] == "nim" and p["augmenter"] == "serve:augment/cosmos"
        assert p["llm_model"] == LLM_MODEL and p["vlm_model"] == VLM_MODEL
    for p in refused:
        assert p["prompt_refused"] == ["echo of the instruction"] and p["polish_refused"] == ["echo of the instruction"]
    # the key went to the NIMs as a bearer header (from the preflight in this process; the Serve replicas see the
    # environment of the Ray workers) and nowhere else
    sent = [r["headers"].get("Authorization") for r in llm.requests + vlm.requests]
    assert f"Bearer {SECRET}" in sent and set(sent) <= {f"Bearer {SECRET}", None}
    for f in out.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f
    assert SECRET not in captured.out + captured.err
