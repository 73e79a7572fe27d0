"""CosmosTransferClient against a real Gradio app with the Cosmos-Transfer2.5 server's endpoints (tests/servers)."""
from __future__ import annotations

import logging
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from servers.cosmos_app import free_port, grade  # noqa: E402
from servers.fixtures import cosmos_server  # noqa: E402,F401 (the shared session server)

from sdg.augment.base import Augmenter, AugmentRequest, Look  # noqa: E402
from sdg.augment.cosmos import (  # noqa: E402
    CosmosOutputMismatch,
    CosmosRequestError,
    CosmosTransferClient,
    CosmosUnavailable,
    parse_status,
)
from sdg.augment.cosmos_model import (  # noqa: E402
    MODEL_CONTROLS,
    MODELS,
    controls_problem,
    model_from_gradio_config,
    model_problem,
)
from sdg.augment.cosmos_setup import check_cosmos, make_augmenter_client  # noqa: E402
from sdg.augment.video import encode_mp4, probe_mp4  # noqa: E402
from sdg.config import ConfigError, parse_config  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")  # gradio's own pandas deprecations

CONTROL_LEVEL = {"edge": 30, "depth": 90, "seg": 150, "vis": 210}  # each control a distinct grey level


@pytest.fixture()
def srv(cosmos_server):
    cosmos_server.reset()
    return cosmos_server


def clip(t: int = 12, h: int = 48, w: int = 64) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = [np.dstack([40 + 170 * xx / w, 50 + 140 * yy / h, np.full_like(xx, 60.0 + 8 * i)]) for i in range(t)]
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


def request(clip_id: str = "clipA", t: int = 12, h: int = 48, w: int = 64, controls=("edge", "depth", "seg", "vis"),
            seed: int = 4242, variant: int = 1) -> AugmentRequest:
    rgb = clip(t, h, w)
    return AugmentRequest(
        clip_id=clip_id, look=Look("fog", "night", "wet", seed=seed, variant=variant),
        prompt="A traffic camera video of an intersection at night in fog.", rgb=rgb,
        depth=np.full((t, h, w), 10.0, np.float32), semantic=np.zeros((t, h, w), np.uint8),
        controls={c: np.full((t, h, w, 3), CONTROL_LEVEL[c], np.uint8) for c in controls}, fps=10.0)


def client(srv, **kw) -> CosmosTransferClient:
    kw.setdefault("retries", 3)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 60.0)
    return CosmosTransferClient(srv.url, **kw)


def test_check_lists_generate_video(srv):
    v = client(srv).check()
    assert v.ok, v.line()
    assert "/generate_video" in v.detail and "/upload_file" in v.detail
    dead_url = f"http://127.0.0.1:{free_port()}"
    dead = CosmosTransferClient(dead_url, retries=0).check()
    assert not dead.ok and "SDG_COSMOS_URL" in dead.line() and dead_url in dead.line()
    # preflight of a config with two servers: one verdict each
    verdicts = check_cosmos(_cfg(endpoints={"cosmos_url": f"{srv.url}, {dead_url}"}))
    assert [x.ok for x in verdicts] == [True, False]
    assert srv.url in verdicts[0].service and dead_url in verdicts[1].service


def test_round_trip_frames_resolution_and_grade(srv):
    c = client(srv, control_weights={"edge": 1.0, "depth": 0.5, "seg": 0.25, "vis": 0.3})
    assert isinstance(c, Augmenter) and c.name == "cosmos"
    req = request()
    out = c.augment(req)
    assert out.shape == req.rgb.shape and out.dtype == np.uint8
    expected = grade(req.rgb).astype(np.int16)
    assert np.abs(out.astype(np.int16) - expected).mean() < 6.0  # the server's grade, through two lossy encodes
    assert np.abs(out.astype(np.int16) - req.rgb.astype(np.int16)).mean() > 30  # and really changed
    # red out = 0.8 * blue in: the channel swap proves RGB order is kept end to end
    assert np.abs(out[..., 0].astype(float) - 0.8 * req.rgb[..., 2]).mean() < 6.0

    body = srv.requests[-1]
    assert body["seed"] == 4242 and body["max_frames"] == 12 and body["keep_input_resolution"] is True
    assert body["name"] == "clipA_v1" and body["prompt"] == req.prompt
    assert body["guidance"] == 3 and body["num_steps"] == 35 and body["num_video_frames_per_chunk"] == 93
    assert body["num_conditional_frames"] == 1 and body["resolution"] == "720"
    assert "sigma_max" not in body  # unset: the server's default
    weights = {k: body[k]["control_weight"] for k in ("edge", "depth", "seg", "vis")}
    assert weights == {"edge": 1.0, "depth": 0.5, "seg": 0.25, "vis": 0.3}
    # every control uploaded as its own file with its own content
    paths = {body[k]["control_path"] for k in ("edge", "depth", "seg", "vis")} | {body["video_path"]}
    assert len(paths) == 5 and all(p in srv.uploaded for p in paths)
    seen = srv.controls_seen[-1]
    for k, level in CONTROL_LEVEL.items():
        shape, mean = seen[k]
        assert shape == (12, 48, 64, 3)
        assert all(abs(m - level) < 6 for m in mean), (k, mean)


def test_configured_controls_and_prebuilt_control_bytes(srv):
    req = request(controls=("depth", "seg", "vis"))
    edge = np.zeros((12, 48, 64, 3), np.uint8)
    edge[:, :, 32:] = 255  # right half white
    req.control_videos["edge"] = encode_mp4(edge, 10.0)
    out = client(srv, controls=["edge", "depth"]).augment(req)
    assert out.shape == req.rgb.shape
    body = srv.requests[-1]
    assert "edge" in body and "depth" in body and "seg" not in body and "vis" not in body
    assert len(srv.uploaded) == 3  # input + two controls
    _, mean = srv.controls_seen[-1]["edge"]
    assert all(abs(m - 127.5) < 6 for m in mean)  # the bytes we passed, not a re-encode of something else


def test_options_and_clip_longer_than_a_chunk(srv):
    c = client(srv, options={"guidance": 5, "num_steps": 10, "sigma_max": 80, "num_video_frames_per_chunk": 8,
                             "negative_prompt": "cartoon"})
    req = request(t=20)
    out = c.augment(req)
    assert out.shape == (20, 48, 64, 3)
    body = srv.requests[-1]
    assert body["sigma_max"] == "80" and isinstance(body["sigma_max"], str)
    assert body["guidance"] == 5 and body["num_steps"] == 10
    assert body["num_video_frames_per_chunk"] == 8 and body["max_frames"] == 20
    assert body["negative_prompt"] == "cartoon"
    req.negative_prompt = "blurry"
    c.augment(req)
    assert srv.requests[-1]["negative_prompt"] == "blurry"  # the request's own wins


def test_odd_size_clip_comes_back_at_its_size(srv):
    req = request(h=47, w=63, t=6)
    out = pickle.loads(pickle.dumps(client(srv))).augment(req)  # also: a client shipped to a Ray actor works
    assert out.shape == (6, 47, 63, 3)
    assert np.abs(out.astype(np.int16) - grade(req.rgb).astype(np.int16)).mean() < 6.0


def test_wrong_frame_count_is_an_error(srv):
    srv.reset("wrong_count")
    with pytest.raises(CosmosOutputMismatch) as ei:
        client(srv).augment(request(clip_id="clip-wrong"))
    e = ei.value
    assert e.clip_id == "clip-wrong" and e.expected == (12, 48, 64) and e.got == (11, 48, 64)
    assert "clip clip-wrong" in str(e) and "11 frames of 64x48" in str(e) and "expected 12 frames" in str(e)
    assert srv.generate_calls == 1  # not retried


def test_transient_failures_are_retried_then_succeed(srv, caplog):
    srv.reset("transient", failures=2)
    caplog.set_level(logging.WARNING, logger="sdg.augment.cosmos")
    req = request()
    out = client(srv).augment(req)
    assert out.shape == req.rgb.shape
    assert srv.generate_calls == 2 and srv.http_failed == 1  # one "workers restarted" answer, one HTTP 502
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 2
    assert "Restarted all workers" in retries[0].getMessage() and "502" in retries[1].getMessage()


def test_retries_are_bounded_and_the_error_says_what_to_do(srv):
    srv.reset("transient", failures=100)
    with pytest.raises(CosmosUnavailable) as ei:
        client(srv, retries=2).augment(request(clip_id="clipB"))
    msg = str(ei.value)
    assert srv.generate_calls + srv.http_failed == 3
    assert srv.url in msg and "clipB" in msg and "3 attempts" in msg and "SDG_COSMOS_URL" in msg


def test_connection_refused_is_retried_then_named(caplog):
    caplog.set_level(logging.WARNING, logger="sdg.augment.cosmos")
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CosmosUnavailable) as ei:
        CosmosTransferClient(url, retries=2, backoff=0.01).augment(request())
    assert url in str(ei.value) and "ConnectError" in str(ei.value)
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


def test_bad_json_answer_is_not_retried(srv):
    srv.reset("bad_json")
    with pytest.raises(CosmosRequestError, match="Error parsing request JSON"):
        client(srv).augment(request())
    assert srv.generate_calls == 1


class _ExtraFieldClient(CosmosTransferClient):
    def build_request(self, req, video_path, control_paths):
        return {**super().build_request(req, video_path, control_paths), "bogus_field": 1}


def test_server_validation_error_is_reported_not_retried(srv):
    c = _ExtraFieldClient(srv.url, retries=3, backoff=0.01)
    with pytest.raises(CosmosRequestError) as ei:
        c.augment(request())
    assert "bogus_field" in str(ei.value) and "Extra inputs are not permitted" in str(ei.value)
    assert srv.generate_calls == 1 and srv.requests == []


def test_legacy_result_json_and_file_download(srv):
    srv.reset("legacy")
    req = request()
    out = client(srv).augment(req)
    assert out.shape == req.rgb.shape
    assert np.abs(out.astype(np.int16) - grade(req.rgb).astype(np.int16)).mean() < 6.0


def test_token_is_sent_but_never_shown(srv, caplog, monkeypatch):
    secret = "hf_SECRETtoken0123456789"
    monkeypatch.setenv("HF_TOKEN", secret)
    caplog.set_level(logging.DEBUG)
    c = client(srv, token_env="HF_TOKEN", retries=1)
    c.augment(request())
    assert srv.auth[-1] == f"Bearer {secret}"
    client(srv).augment(request())  # no token_env: nothing sent, not even gradio_client's HF_TOKEN fallback
    assert srv.auth[-1] is None
    srv.reset("transient", failures=100)
    with pytest.raises(CosmosUnavailable) as e1:
        c.augment(request())
    srv.reset("bad_json")
    with pytest.raises(CosmosRequestError) as e2:
        c.augment(request())
    dead = CosmosTransferClient(f"http://127.0.0.1:{free_port()}", retries=0, token_env="HF_TOKEN")
    with pytest.raises(CosmosUnavailable) as e3:
        dead.augment(request())
    for text in (str(e1.value), str(e2.value), str(e3.value), repr(c), dead.check().line(), caplog.text):
        assert secret not in text


def test_bad_settings_and_requests_fail_early(srv):
    with pytest.raises(ValueError, match="bogus"):
        CosmosTransferClient(srv.url, options={"bogus": 1})
    with pytest.raises(ValueError, match="keep_input_resolution"):
        CosmosTransferClient(srv.url, options={"keep_input_resolution": False})
    with pytest.raises(ValueError, match=r"control_weights.depth: 1.5"):
        CosmosTransferClient(srv.url, control_weights={"depth": 1.5})
    with pytest.raises(ValueError, match="normals"):
        CosmosTransferClient(srv.url, controls=["edge", "normals"])
    c = client(srv, controls=["edge", "seg"])
    with pytest.raises(ValueError, match=r"\['seg'\] are configured but missing"):
        c.augment(request(controls=("edge",)))
    req = request()
    req.prompt = "  "
    with pytest.raises(ValueError, match="empty prompt"):
        c.augment(req)
    req = request()
    req.controls["edge"] = req.controls["edge"][:5]
    with pytest.raises(ValueError, match="control 'edge' has shape"):
        c.augment(req)
    assert srv.generate_calls == 0


def test_parse_status_both_forms():
    new = '{"rank": 0, "status": "success", "request_id": 3, "result": {"videos": ["/out/a.mp4"]}}'
    assert parse_status(new) == ("success", ["/out/a.mp4"])
    assert parse_status('{"rank":0,"status":"boom","request_id":0,"result":{}}') == ("boom", [])
    assert parse_status('{"status":"success","result":{"images":["/o/x.jpg"]}}') == ("success", ["/o/x.jpg"])
    old = 'Generation done in 312 s\nResult json: {"videos": ["/mnt/out/v.mp4"], "elapsed": 3}'
    assert parse_status(old) == ("success", ["/mnt/out/v.mp4"])
    assert parse_status("something else") == ("something else", [])
    with pytest.raises(CosmosRequestError, match="could not parse"):
        parse_status("Error parsing request JSON: Expecting value")


def _cfg(**over):
    data = {"name": "t", "cameras": [{"name": "cam"}], "scenarios": [{"id": "s1"}],
            "backends": {"augmenter": "cosmos"}}
    data.update(over)
    return parse_config(data)


def test_make_augmenter_client_from_config(monkeypatch):
    monkeypatch.delenv("SDG_COSMOS_URL", raising=False)
    cfg = _cfg(endpoints={"cosmos_url": "http://cosmos:8080/"},
               augmentation={"controls": ["edge", "seg"], "control_weights": {"edge": 0.9, "seg": 0.4},
                             "cosmos": {"num_steps": 20, "sigma_max": 70}})
    c = make_augmenter_client(cfg)
    assert c.url == "http://cosmos:8080" and c.controls == ["edge", "seg"]
    assert c.control_weights["edge"] == 0.9 and c.control_weights["seg"] == 0.4
    assert c.options.num_steps == 20 and c.options.sigma_max == "70"
    assert make_augmenter_client(_cfg(endpoints={"cosmos_url": "http://a:1, http://b:2"})).url == "http://a:1"
    monkeypatch.setenv("SDG_COSMOS_URL", "http://other:9000")
    assert make_augmenter_client(_cfg()).url == "http://other:9000"  # no endpoints section: the env is used
    monkeypatch.delenv("SDG_COSMOS_URL")
    with pytest.raises(ConfigError, match="SDG_COSMOS_URL"):
        make_augmenter_client(_cfg())
    with pytest.raises(ConfigError, match="augmentation.*typo_field"):
        make_augmenter_client(_cfg(endpoints={"cosmos_url": "http://c:1"}, augmentation={"cosmos": {"typo_field": 1}}))


def test_output_mismatch_survives_pickling():
    import pickle

    from sdg.augment.cosmos import CosmosOutputMismatch

    e = CosmosOutputMismatch("clip-1", (12, 90, 160), (11, 90, 160), "; check the server")
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is CosmosOutputMismatch and str(back) == str(e) and back.got == (11, 90, 160)



# ------------------------------------------------------------------------------------------------ the server's model
def _ui(title="Gradio", header=None, request="{}"):
    """A Gradio /config as the server's UI describes itself (only the parts read)."""
    comps = [{"id": 1, "type": "markdown", "props": {"value": f"# {header}" if header else ""}},
             {"id": 2, "type": "textbox", "props": {"label": "Request (JSON)", "value": request}}]
    return {"title": title, "components": comps}


def test_model_from_the_servers_ui_description():
    import json

    from sdg.config import Endpoints

    assert model_from_gradio_config(_ui("Cosmos-Transfer2.5 Edge Transfer")) == "edge"
    assert model_from_gradio_config(_ui("Cosmos-Transfer2.5 Segmentation Transfer")) == "seg"
    assert model_from_gradio_config(_ui("Cosmos-Transfer2.5 Blur Transfer")) == "vis"
    assert model_from_gradio_config(_ui("Cosmos-Transfer2.5 Edge Distilled Transfer")) == "edge/distilled"
    assert model_from_gradio_config(_ui("Cosmos-Transfer2.5 Multi-control Transfer")) == "multicontrol"
    assert model_from_gradio_config(_ui(header="Cosmos-Transfer2.5 Depth Transfer")) == "depth"  # header only
    # no title or header: the default request's control blocks
    req = {"name": "x", "video_path": "a.mp4", "depth": {"control_path": "d.mp4"}}
    assert model_from_gradio_config(_ui(request=json.dumps(req))) == "depth"
    req["seg"] = {"control_path": "s.mp4"}
    assert model_from_gradio_config(_ui(request=json.dumps(req))) == "multicontrol"
    distilled = {"name": "robot_edge_distilled", "edge": {"control_path": "e.mp4"}}
    assert model_from_gradio_config(_ui(request=json.dumps(distilled))) == "edge/distilled"
    views = {"name": "mv", "front_wide": {"input_path": "f.mp4", "control_path": "c.mp4"}}
    assert model_from_gradio_config(_ui(request=json.dumps(views))) == "multiview"
    # says nothing: None (the job's endpoints.cosmos_model is used)
    for quiet in (_ui(), _ui(request="not json"), {}, None, {"title": "Cosmos-Transfer2.5 Something New"}):
        assert model_from_gradio_config(quiet) is None
    # the config accepts exactly the single-view models the client knows
    assert set(Endpoints.model_fields["cosmos_model"].annotation.__args__) == set(MODEL_CONTROLS)
    assert set(MODELS) - set(MODEL_CONTROLS) == {"multiview"}


def test_controls_against_the_model():
    assert controls_problem("edge", ["edge"], True) is None
    assert controls_problem("multicontrol", ["edge", "depth", "seg"], True) is None
    assert controls_problem("edge", None, True) is None  # left to the model
    what, fix = controls_problem("edge", ["seg"], True)
    assert what == ("the server runs model 'edge' (MODEL_NAME=edge), which takes the edge control only; "
                    "augmentation.controls asks for ['seg']")
    assert fix == ("set augmentation.controls: [edge] and endpoints.cosmos_model: edge, or restart the server with "
                   "MODEL_NAME=seg")
    what, fix = controls_problem("edge", ["edge", "depth"], True)
    assert "asks for ['edge', 'depth']" in what and fix.endswith("MODEL_NAME=multicontrol")
    what, fix = controls_problem("depth", ["seg"], False)  # not announced: the job's own setting is named
    assert what.startswith("endpoints.cosmos_model is 'depth', which takes the depth control only")
    assert controls_problem("multiview", None, True)[0].endswith("multi-camera requests sdg does not make")
    # a server announcing another model than the job set
    what, fix = model_problem("edge", "seg", True, None, ["edge"])
    assert what == "the server runs model 'edge' (MODEL_NAME=edge) but endpoints.cosmos_model is 'seg'"
    assert fix == "set endpoints.cosmos_model: edge, or restart the server with MODEL_NAME=seg"
    assert model_problem("edge", "seg", False, None, ["edge", "depth"]) is None  # default model: the server's wins
    what, fix = model_problem("vis", "edge", False, None, ["edge", "depth", "seg"])  # none of the made controls
    assert what == ("the server runs model 'vis', which takes the vis control only; the job makes ['edge', 'depth', "
                    "'seg'] (augmentation.controls)") and fix == "set augmentation.controls: [vis]"
    assert model_problem(None, None, False, ["edge"], None) is None  # nothing known: nothing to say


def test_announced_model_decides_the_controls_sent(srv):
    c = client(srv, model="edge")  # the job's default model; the (multicontrol) server says otherwise
    assert c.announced_model() == "multicontrol"
    v = c.check()
    assert v.ok and v.detail.endswith("; runs model 'multicontrol' (announced by the server); "
                                      "sends ['edge', 'vis', 'depth', 'seg']")
    c.augment(request(controls=("edge", "seg")))
    body = srv.requests[-1]
    assert [k for k in ("edge", "vis", "depth", "seg") if k in body] == ["edge", "seg"]
    # an explicit model the server does not run stops the preflight and the request, before any generation
    wrong = client(srv, model="seg", model_explicit=True)
    v = wrong.check()
    assert not v.ok and v.line().endswith("but endpoints.cosmos_model is 'seg' — set endpoints.cosmos_model: "
                                          "multicontrol, or restart the server with MODEL_NAME=seg")
    calls = srv.generate_calls
    with pytest.raises(CosmosRequestError, match="runs model 'multicontrol'.*endpoints.cosmos_model is 'seg'"):
        wrong.augment(request())
    assert srv.generate_calls == calls


def test_controls_are_uploaded_lossless_444_and_the_input_as_420(srv):
    """What reaches the server: the control as H.264 yuv444p (palette colours within 1), the input video yuv420p."""
    from sdg.augment.video import read_mp4

    req = request(controls=())
    seg = np.zeros((12, 48, 64, 3), np.uint8)
    seg[:, :24] = (128, 64, 128)  # road
    seg[:, 24:] = (220, 20, 60)  # pedestrian
    req.controls["seg"] = seg
    client(srv, controls=["seg"]).augment(req)
    files = {os.path.basename(p): p for p in srv.uploaded}  # the server's copies of the uploads
    assert sorted(files) == ["input.mp4", "seg.mp4"]
    info = probe_mp4(files["seg.mp4"])
    assert (info.codec, info.pix_fmt, info.frames, info.fps) == ("h264", "yuv444p", 12, 10.0)
    assert probe_mp4(files["input.mp4"]).pix_fmt == "yuv420p"
    assert np.abs(read_mp4(files["seg.mp4"]).astype(int) - seg.astype(int)).max() <= 1


def test_node_local_servers_are_left_to_the_replicas_health_checks(monkeypatch):
    """On a cluster whose Cosmos servers listen on 127.0.0.1 of each cosmos node, the driver cannot reach them: the
    preflight says each replica checks its own server instead of failing (a plain loopback url is still checked)."""
    from sdg.augment.cosmos_setup import check_cosmos

    monkeypatch.delenv("SDG_COSMOS_URL", raising=False)
    local = _cfg(endpoints={"cosmos_url": "http://127.0.0.1:9"},
                 resources={"serve": {"augment": {"resources": {"cosmos": 1}}}})
    (v,) = check_cosmos(local)
    assert v.ok and "node-local" in v.detail and "cosmos" in v.detail
    (v,) = check_cosmos(_cfg(endpoints={"cosmos_url": "http://127.0.0.1:9"}))
    assert not v.ok  # nothing listens on port 9: a real check


def test_a_cancelled_call_is_retried_a_bad_request_is_not():
    import asyncio
    import concurrent.futures

    from sdg.augment.cosmos import _classify

    assert _classify(concurrent.futures.CancelledError()) and _classify(asyncio.CancelledError())
    assert _classify(TimeoutError()) and not _classify(ValueError("bad request json"))
