"""The Cosmos/NIM path end to end through Ray Serve: `sdg.run.run_job(executor="ray")` with `augmenter: cosmos` and
`prompts: nim`, endpoints from $SDG_COSMOS_URL / $SDG_VLM_URL / $SDG_LLM_URL pointing at the real local Gradio and
OpenAI-compatible servers (tests/servers), through the Serve apps `augment` and `prompt` on the session Ray cluster.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import small_job  # noqa: E402
from servers.cosmos_app import grade  # noqa: E402
from servers.fixtures import cosmos_server, nim_server  # noqa: E402,F401
from servers.openai_server import rewrite  # noqa: E402

from sdg.augment.base import Look  # noqa: E402
from sdg.augment.prompts import (  # noqa: E402
    DEFAULT_FILL_TEMPLATE,
    DEFAULT_VALUES,
    POLISH_INSTRUCTION,
    condition_values,
)
from sdg.codec import decode_image  # noqa: E402
from sdg.config import parse_config  # noqa: E402
from sdg.model import GROUND_TRUTH_COLUMNS, ROW_SCHEMA  # noqa: E402
from sdg.run import run_job  # noqa: E402

pytestmark = [pytest.mark.ray, pytest.mark.filterwarnings("ignore:::gradio.queueing")]

CAPTION = "A four-way junction seen from a corner camera, cars crossing and pedestrians on the sidewalks."
SECRET = "nvapi-TEST-SECRET-0123456789abcdef"
FRAMES, W, H = 4, 160, 90


def tiny_job(**backends) -> dict:
    """1 clip, 4 frames of 160x90, 2 variants."""
    return small_job(
        cameras=[{"name": "corner", "width": W, "height": H, "fov": 90.0,
                  "location": [-22.0, -22.0, 9.0], "rotation": [0.0, -22.0, 45.0]}],
        scenarios=[{"id": "col", "scenario": "collision", "seed": 1, "duration": 2.5, "fps": 1.6,
                    "vehicles": 6, "pedestrians": 4}],
        backends=backends or {"augmenter": "builtin", "prompts": "template"},
    )


class ServePoller:
    """Polls serve.status() in the driver while a run goes on: the states each app was seen in."""

    def __init__(self):
        self.seen: dict[str, set[str]] = {}
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        from ray import serve

        while not self._stop.is_set():
            try:
                for name, app in serve.status().applications.items():
                    self.seen.setdefault(name, set()).add(str(getattr(app.status, "value", app.status)))
            except Exception:  # noqa: BLE001 - Serve not started yet
                pass
            self._stop.wait(0.3)

    def __enter__(self):
        self._th.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._th.join(5)


def _apps_now() -> set[str]:
    from ray import serve

    return set(serve.status().applications)


def _shard(out: Path):
    man = json.loads((out / "manifest.json").read_text())
    return pq.read_table(out / man["clips"]["col.corner"]["shard"])


@pytest.fixture(scope="module")
def runs(ray_cluster, cosmos_server, nim_server, tmp_path_factory):
    """A builtin run (in-process) and the Cosmos/NIM run through Serve of the same config."""
    cosmos_server.reset()
    nim_server.reset(style="nemotron")  # reasoning traces before every answer
    nim_server.echo_when = None  # no refused answers here (tests/test_stack.py has them): one request per step
    nim_server.caption_text = CAPTION
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDG_COSMOS_URL", cosmos_server.url)
        mp.setenv("SDG_VLM_URL", nim_server.url)
        mp.setenv("SDG_LLM_URL", nim_server.url)
        mp.setenv("NGC_API_KEY", SECRET)
        out_b = tmp_path_factory.mktemp("builtin")
        res_b = run_job(parse_config(tiny_job()), out_b, executor="local", exports=False)
        cfg = parse_config(tiny_job(augmenter="cosmos", prompts="nim"))
        assert cfg.endpoints.cosmos_url == cosmos_server.url  # from the environment, as deployments set it
        out_s = tmp_path_factory.mktemp("serve")
        with ServePoller() as poll:
            t0 = time.time()
            res_s = run_job(cfg, out_s, executor="ray", exports=False)
            seconds = time.time() - t0
        apps_after = _apps_now()
    return {"builtin": (out_b, res_b), "serve": (out_s, res_s), "seen": poll.seen, "after": apps_after,
            "seconds": seconds, "cosmos_requests": list(cosmos_server.requests),
            "cosmos_calls": cosmos_server.generate_calls, "nim_requests": list(nim_server.requests)}


def test_run_goes_through_both_serve_apps(runs):
    out, res = runs["serve"]
    assert res.ok, res.failed
    assert res.committed == ["col.corner"]
    # both apps were RUNNING during the run and are gone after it
    assert "RUNNING" in runs["seen"].get("augment", set()), runs["seen"]
    assert "RUNNING" in runs["seen"].get("prompt", set()), runs["seen"]
    assert not {"augment", "prompt"} & runs["after"]
    t = _shard(out)
    assert t.schema.equals(ROW_SCHEMA)
    assert t.num_rows == 2 * FRAMES
    prov = {json.dumps(json.loads(p), sort_keys=True) for p in t.column("provenance").to_pylist()}
    assert len(prov) == 1
    p = json.loads(prov.pop())
    assert p["augmenter"] == "serve:augment/cosmos" and p["prompts"] == "serve:prompt/nim"
    # the prompt's own provenance came through the Serve app with it
    assert p["prompt_origin"] == "nim" and p["llm_model"] == "nvidia/nvidia-nemotron-nano-9b-v2"


def test_servers_saw_one_request_per_variant(runs):
    t = _shard(runs["serve"][0]).to_pylist()
    looks = {r["variant"]: Look.from_json(r["look"]) for r in t}
    prompts = {r["variant"]: r["prompt"] for r in t}
    assert sorted(looks) == [0, 1] and looks[0].seed != looks[1].seed
    # Cosmos: exactly 2 generations (2 variants x 1 clip), each with the variant's seed, prompt and all frames
    assert runs["cosmos_calls"] == 2
    reqs = sorted(runs["cosmos_requests"], key=lambda b: b["name"])
    assert [b["name"] for b in reqs] == ["col.corner_v0", "col.corner_v1"]
    for v, body in enumerate(reqs):
        assert body["seed"] == looks[v].seed and body["prompt"] == prompts[v]
        assert body["max_frames"] == FRAMES and body["keep_input_resolution"] is True
        assert {k for k in ("edge", "depth", "seg", "vis") if k in body} == {"edge", "depth", "seg"}
    # NIM: one caption for the clip (cached across variants), a fill and a polish per variant
    chats = [r["body"] for r in runs["nim_requests"] if r["path"] == "/v1/chat/completions"]
    vlm = [b for b in chats if any(isinstance(m["content"], list) for m in b["messages"])]
    llm = [b for b in chats if b not in vlm]
    assert len(vlm) == 1 and vlm[0]["model"] == "nvidia/cosmos-reason1-7b"
    assert len(llm) == 4 and {b["model"] for b in llm} == {"nvidia/nvidia-nemotron-nano-9b-v2"}
    assert sorted(b["seed"] for b in llm) == sorted([looks[0].seed] * 2 + [looks[1].seed] * 2)


def test_prompts_are_the_nim_fill_and_polish(runs):
    t = _shard(runs["serve"][0]).to_pylist()
    for r in t:
        look = Look.from_json(r["look"])
        # the stand-in Nemotron's answers after its <think> trace: the fill, then the polish of the fill
        filled = rewrite(DEFAULT_FILL_TEMPLATE.format(caption=CAPTION, **condition_values(look, DEFAULT_VALUES)))
        expected = rewrite(POLISH_INSTRUCTION.format(prompt=filled))
        assert r["prompt"] == expected
        assert "<think" not in r["prompt"] and "Answer with the prompt only" not in r["prompt"]
    assert CAPTION.rstrip(".") in t[0]["prompt"]


def test_images_are_the_gradio_grade_of_the_simulator_frames(runs):
    t = _shard(runs["serve"][0]).to_pylist()
    for r in t:
        aug = decode_image(r["image"]).astype(np.int16)
        rgb = decode_image(r["rgb_image"])
        assert aug.shape == (H, W, 3)
        want = grade(rgb[None])[0].astype(np.int16)
        assert np.abs(aug - want).mean() < 8.0, (r["variant"], r["frame_index"])
        assert np.abs(aug - rgb.astype(np.int16)).mean() > 12.0  # really changed (measured ~22; codec noise ~2)
        # the grade swaps R and B: red out = 0.8 * blue in proves RGB order end to end
        assert np.abs(aug[..., 0] - 0.8 * rgb[..., 2]).mean() < 8.0


def test_ground_truth_equals_the_builtin_run(runs):
    a = _shard(runs["builtin"][0])
    b = _shard(runs["serve"][0])
    assert runs["builtin"][1].ok
    a, b = a.sort_by([("variant", "ascending"), ("frame_index", "ascending")]), \
        b.sort_by([("variant", "ascending"), ("frame_index", "ascending")])
    for col in GROUND_TRUTH_COLUMNS + ("rgb_image", "edge_image", "look"):
        if col in ("objects", "qa"):
            continue
        assert a[col].equals(b[col]), col
    # objects: identical except `survival`, which is measured on the augmented frames (so is the Q&A built on it)
    strip = lambda rows: [[{k: v for k, v in o.items() if k != "survival"} for o in objs] for objs in rows]  # noqa
    assert strip(a["objects"].to_pylist()) == strip(b["objects"].to_pylist())
    assert all(o["survival"] is not None for objs in b["objects"].to_pylist() for o in objs if o["mark"])
    assert a["image"] != b["image"] and a["prompt"] != b["prompt"]


def test_wrong_frame_count_fails_the_clip_and_writes_nothing(runs, cosmos_server, nim_server, tmp_path):
    cosmos_server.reset(mode="wrong_count")
    nim_server.reset()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SDG_COSMOS_URL", cosmos_server.url)
        mp.setenv("SDG_VLM_URL", nim_server.url)
        mp.setenv("SDG_LLM_URL", nim_server.url)
        cfg = parse_config(tiny_job(augmenter="cosmos", prompts="nim"))
        try:
            res = run_job(cfg, tmp_path / "out", executor="ray", exports=False)
            calls = cosmos_server.generate_calls
        finally:
            cosmos_server.reset()
    assert not res.ok and res.committed == []
    err = res.failed["col.corner"]
    assert err.startswith("augment: CosmosOutputMismatch: clip col.corner: Cosmos-Transfer returned 3 frames of "
                          f"{W}x{H}, expected 4 frames of {W}x{H}"), err
    assert "Traceback" not in err and len(err) < 600
    assert calls == 2  # the server was asked (both variants), and its answers were refused
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["clips"] == {} and man["last_run"]["failed"] == {"col.corner": err}
    assert not list((tmp_path / "out").rglob("*.parquet"))
    assert not {"augment", "prompt"} & _apps_now()


def test_secret_never_in_outputs(runs):
    out = runs["serve"][0]
    for p in out.rglob("*"):
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p



# ------------------------------------------------------------------------------------------ deployments, deploy()
def _env(mp, cosmos_url, nim_url):
    mp.setenv("SDG_COSMOS_URL", cosmos_url)
    mp.setenv("SDG_VLM_URL", nim_url)
    mp.setenv("SDG_LLM_URL", nim_url)


def test_replica_health_checks_reach_the_servers(cosmos_server, nim_server, monkeypatch):
    """check_health of the raw deployment classes (as Serve calls it in the replica)."""
    from servers.cosmos_app import free_port

    from serve.apps import AugmentDeployment, PromptDeployment, gradio_health

    nim_server.reset()
    _env(monkeypatch, cosmos_server.url, nim_server.url)
    cfg = parse_config(tiny_job(augmenter="cosmos", prompts="nim"))
    aug = AugmentDeployment.func_or_class(cfg)
    assert aug.url == cosmos_server.url and aug.backend() == "cosmos"
    aug.check_health()  # the live Gradio API lists /upload_file and /generate_video
    prompts = PromptDeployment.func_or_class(cfg)
    prompts.check_health()
    assert [r["path"] for r in nim_server.requests] == ["/v1/health/ready"] * 2  # VLM and LLM
    nim_server.ready = False
    with pytest.raises(RuntimeError, match=rf"NIM at {nim_server.url} is not ready \(GET /v1/health/ready"):
        prompts.check_health()
    nim_server.reset()
    dead = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RuntimeError, match=rf"Cosmos-Transfer at {dead} is unreachable"):
        gradio_health(dead, timeout=2.0)
    with pytest.raises(RuntimeError, match="no Gradio API description"):
        gradio_health(nim_server.url)  # an OpenAI server answers 404 to both API description routes


def test_replica_errors_survive_the_trip_to_the_caller(cosmos_server, monkeypatch):
    """A replica's exception reaches the caller with its class and message (and one that cannot be pickled as is
    still arrives by name, as a RemoteError)."""
    import pickle

    from sdg.augment.base import AugmentRequest
    from sdg.augment.cosmos import CosmosOutputMismatch
    from sdg.serving.contract import RemoteError, portable
    from serve.apps import AugmentDeployment

    class Unpicklable(RuntimeError):
        def __init__(self, a, b):
            super().__init__(f"{a}/{b}")

    lost = portable(Unpicklable(1, 2))
    assert isinstance(lost, RemoteError) and type(pickle.loads(pickle.dumps(lost))).__name__ == "Unpicklable"
    assert str(lost) == "1/2"

    _env(monkeypatch, cosmos_server.url, "http://127.0.0.1:9")
    aug = AugmentDeployment.func_or_class(parse_config(tiny_job(augmenter="cosmos")))
    rgb = np.full((3, 32, 48, 3), 120, np.uint8)
    req = AugmentRequest(clip_id="c1", look=Look("fog", "day", "dry", seed=5, variant=0), prompt="p", rgb=[rgb],
                         depth=np.empty(0), semantic=np.empty(0), controls={k: rgb for k in ("edge", "depth", "seg")},
                         fps=4.0)
    cosmos_server.reset(mode="wrong_count")
    try:
        with pytest.raises(CosmosOutputMismatch) as ei:
            aug.augment(req)
    finally:
        cosmos_server.reset()
    back = pickle.loads(pickle.dumps(ei.value))
    assert type(back).__name__ == "CosmosOutputMismatch"
    assert str(back).startswith("clip c1: Cosmos-Transfer returned 2 frames of 48x32, expected 3 frames of 48x32")
    out = aug.augment(req)  # rgb shipped as [array] is resolved like an ObjectRef would be
    assert out.shape == rgb.shape and np.abs(out.astype(int) - grade(rgb).astype(int)).mean() < 8


class GradioInfoStub:
    """A tiny HTTP server answering a Gradio API description (as Cosmos-Transfer's) and recording the requests."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        stub = self
        self.paths: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                stub.paths.append(self.path)
                body = json.dumps({"named_endpoints": {"/upload_file": {}, "/generate_video": {}}}).encode()
                self.send_response(200 if self.path == "/gradio_api/info" else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_deploy_one_replica_per_server_reuse_refuse_and_deadline(ray_cluster, nim_server, monkeypatch):
    from ray import serve

    from sdg.serving.contract import ServeError
    from sdg.serving.deploy import deploy, shutdown

    stubs = [GradioInfoStub(), GradioInfoStub()]
    _env(monkeypatch, ",".join(s.url for s in stubs), nim_server.url)
    cfg = parse_config(tiny_job(augmenter="cosmos", prompts="nim"))
    first = deploy(cfg)
    try:
        assert first.created == ["augment", "prompt"] and first.reused == []
        assert {"augment", "prompt"} <= _apps_now()
        dep = serve.status().applications["augment"].deployments["Augmenter"]
        assert sum(n for st, n in dep.replica_states.items() if "RUNNING" in str(st)) == 2
        # each replica checked the health of its own server (rank i -> url i) before the app was RUNNING
        assert all("/gradio_api/info" in s.paths for s in stubs), [s.paths for s in stubs]
        again = deploy(cfg)  # e.g. apps deployed ahead with `serve deploy`: used, and left running afterwards
        assert again.created == [] and again.reused == ["augment", "prompt"]
        shutdown(again)
        assert {"augment", "prompt"} <= _apps_now()
        monkeypatch.setenv("SDG_COSMOS_URL", stubs[0].url)
        other = parse_config(tiny_job(augmenter="cosmos", prompts="nim"))
        with pytest.raises(ServeError, match="'augment' is already running with another configuration"):
            deploy(other)
        assert {"augment", "prompt"} <= _apps_now()  # never replaced silently
    finally:
        shutdown(first)
        for s in stubs:
            s.close()
    assert not {"augment", "prompt"} & _apps_now()
    # a replica that cannot be placed (8 CPUs on a 2-CPU cluster): a clear error instead of waiting forever
    big = parse_config(tiny_job(augmenter="cosmos", prompts="nim") | {"resources": {"num_cpus": 2, "stage_cpus": 8}})
    t0 = time.time()
    with pytest.raises(ServeError, match=r"'augment' did not start in time .*Each replica reserves \{'CPU': 8.0\} "
                                         r"\(resources.stage_cpus.*the cluster has \{'CPU': 2.0\}"):
        deploy(big, timeout_s=4.0)
    assert time.time() - t0 < 30
    assert not {"augment", "prompt"} & _apps_now()


@pytest.mark.slow
def test_caption_paraphrase_goes_through_the_prompt_app(ray_cluster, nim_server, monkeypatch):
    """qa.paraphrase with NIM prompts: the post-process stage rewrites captions through the `prompt` Serve app
    (one place holding the LLM client and its key); the reasoning trace is gone from what comes back."""
    from sdg.serving.deploy import deploy, shutdown
    from sdg.stages.postprocess import PostprocessStage

    nim_server.reset(style="nemotron")
    nim_server.echo_when = None
    _env(monkeypatch, "http://127.0.0.1:9", nim_server.url)
    cfg = parse_config(tiny_job(augmenter="builtin", prompts="nim") | {"qa": {"paraphrase": True}})
    done = deploy(cfg)
    try:
        stage = PostprocessStage(cfg)
        stage.setup()
        before = len(nim_server.chat_requests())
        text = stage.rewrite("Rewrite: the car marked 3 drives slowly north.")
        assert text and "<think>" not in text and "</think>" not in text
        sent = [r["body"] for r in nim_server.chat_requests()[before:]]
        assert len(sent) == 1 and sent[0]["model"] == "nvidia/nvidia-nemotron-nano-9b-v2"
        assert any("/no_think" in str(m.get("content")) for m in sent[0]["messages"])
    finally:
        shutdown(done)
