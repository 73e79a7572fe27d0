"""`sdg check CONFIG` and the preflight of `sdg run`, against the real local Gradio (Cosmos-Transfer2.5 endpoints)
and OpenAI-compatible (NIM) servers, and against closed ports."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from conftest import small_job  # noqa: E402
from servers.cosmos_app import free_port  # noqa: E402
from servers.fixtures import cosmos_server, nim_server  # noqa: E402,F401

from sdg.check import Verdict, check_services  # noqa: E402
from sdg.cli import main  # noqa: E402
from sdg.config import parse_config  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:::gradio.queueing")

SECRET = "nvapi-CHECK-SECRET-9f8e7d6c5b4a"
REPO = Path(__file__).resolve().parents[1]
VLM, LLM = "nvidia/cosmos-reason1-7b", "nvidia/nvidia-nemotron-nano-9b-v2"  # the workflow stack's NIMs


def write_config(tmp_path: Path, **backends) -> Path:
    cfg = small_job(backends=backends or {"augmenter": "cosmos", "prompts": "nim"})
    cfg["endpoints"] = {"carla": {"hosts": [f"127.0.0.1:{free_port()}"], "timeout": 1.0}}
    p = tmp_path / "job.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p


@pytest.fixture()
def live(cosmos_server, nim_server, monkeypatch):
    """Endpoints from the environment (as deployments set them) pointing at the live local servers."""
    cosmos_server.reset()
    nim_server.reset()
    monkeypatch.setenv("SDG_COSMOS_URL", cosmos_server.url)
    monkeypatch.setenv("SDG_VLM_URL", nim_server.url)
    monkeypatch.setenv("SDG_LLM_URL", nim_server.url)
    monkeypatch.setenv("NGC_API_KEY", SECRET)
    return cosmos_server, nim_server


@pytest.fixture()
def dead(monkeypatch):
    """Endpoints pointing at closed ports."""
    urls = {k: f"http://127.0.0.1:{free_port()}" for k in ("SDG_COSMOS_URL", "SDG_VLM_URL", "SDG_LLM_URL")}
    for k, v in urls.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("NGC_API_KEY", SECRET)
    return urls


def test_all_services_ok_exit_0(live, tmp_path, capsys):
    cosmos, nim = live
    assert main(["check", str(write_config(tmp_path))]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 3, lines  # VLM, LLM, Cosmos
    assert all(line.startswith("[ok  ] ") for line in lines), lines
    assert lines[0].startswith(f"[ok  ] NIM {nim.url} ({VLM}): ready, model served")
    assert lines[1].startswith(f"[ok  ] NIM {nim.url} ({LLM}): ready, model served")
    assert lines[2].startswith(f"[ok  ] Cosmos-Transfer {cosmos.url}: API lists") and "'/generate_video'" in lines[2]
    # the model the (multicontrol) server announces, and the controls the job leaves to it
    assert lines[2].endswith("; runs model 'multicontrol' (announced by the server); sends ['edge', 'depth', 'seg']")
    # the key was sent to the NIM as a bearer header, and shown nowhere
    assert {r["path"] for r in nim.requests} == {"/v1/health/ready", "/v1/models"}
    assert all(r["headers"].get("Authorization") == f"Bearer {SECRET}" for r in nim.requests)
    assert SECRET not in out.out + out.err


def test_builtin_backends_need_nothing(tmp_path, capsys):
    p = write_config(tmp_path, augmenter="builtin", prompts="template")
    assert main(["check", str(p)]) == 0
    assert capsys.readouterr().out.strip() == "[ok  ] services: builtin backends only; nothing to reach"


def test_closed_ports_fail_with_what_to_do_exit_1(dead, tmp_path, capsys):
    p = write_config(tmp_path, simulator="carla", augmenter="cosmos", prompts="nim")
    assert main(["check", str(p)]) == 1
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 4, lines  # one CARLA host, VLM, LLM, Cosmos — in that order
    assert all(line.startswith("[FAIL] ") and " — " in line for line in lines), lines
    carla, vlm, llm, cosmos = lines
    assert carla.startswith("[FAIL] carla 127.0.0.1:") and "start CarlaUE4.sh" in carla
    assert vlm.startswith(f"[FAIL] NIM {dead['SDG_VLM_URL']} ({VLM}): GET {dead['SDG_VLM_URL']}/v1/health/ready")
    assert llm.startswith(f"[FAIL] NIM {dead['SDG_LLM_URL']} ({LLM}):")
    for line in (vlm, llm):
        assert line.endswith("— start the NIM (it can take minutes to load) or fix the url (endpoints.vlm_url / "
                             "llm_url, $SDG_VLM_URL / $SDG_LLM_URL)")
    assert cosmos.startswith(f"[FAIL] Cosmos-Transfer {dead['SDG_COSMOS_URL']}: cannot reach the Gradio API")
    assert "$SDG_COSMOS_URL" in cosmos
    assert SECRET not in out.out + out.err


def test_wrong_model_and_wrong_server_kind(live, tmp_path, monkeypatch):
    cosmos, nim = live
    monkeypatch.setenv("SDG_COSMOS_URL", nim.url)  # an OpenAI server is no Gradio app
    cfg = parse_config(small_job(backends={"augmenter": "cosmos", "prompts": "nim"},
                                 endpoints={"llm_model": "acme/unknown-llm"}))
    v = check_services(cfg)
    assert [x.ok for x in v] == [True, False, False]
    assert v[1].detail == f"model 'acme/unknown-llm' not served (serves {[VLM, LLM]})"
    assert v[1].line().endswith("— set endpoints.llm_model to one of them")  # the key to set, by name
    assert v[2].service == f"Cosmos-Transfer {nim.url}" and not v[2].ok


def test_run_stops_before_writing_anything(dead, tmp_path, capsys):
    p = write_config(tmp_path)
    out_dir = tmp_path / "never"
    assert main(["run", str(p), "--output", str(out_dir)]) == 2
    out = capsys.readouterr()
    assert [line[:7] for line in out.out.strip().splitlines()] == ["[FAIL] "] * 3
    assert "error: preflight failed: fix the services above" in out.err
    assert not out_dir.exists()
    assert SECRET not in out.out + out.err


def test_cli_process_exit_code_and_no_secret(dead, tmp_path):
    """The real `sdg` process: exit 1, FAIL lines on stdout, the key in neither stream."""
    p = write_config(tmp_path, augmenter="builtin", prompts="nim")
    env = {**os.environ, "NGC_API_KEY": SECRET}
    r = subprocess.run([sys.executable, "-m", "sdg.cli", "check", str(p)], capture_output=True, text=True,
                       cwd=REPO, env=env, timeout=60)
    assert r.returncode == 1, r.stderr
    assert [line[:7] for line in r.stdout.strip().splitlines()] == ["[FAIL] "] * 2
    assert SECRET not in r.stdout + r.stderr


def test_secret_in_an_error_text_is_redacted(monkeypatch):
    """A checker whose error text carries the key (e.g. echoed by a proxy) still prints ***."""
    monkeypatch.setenv("NGC_API_KEY", SECRET)
    import sdg.check as check

    def boom(cfg):
        raise RuntimeError(f"proxy said: bad key {SECRET}")

    monkeypatch.setattr(check, "_nim", boom)
    v = check_services(parse_config(small_job(backends={"prompts": "nim"})))
    assert v == [Verdict("NIM", False, "check failed (RuntimeError: proxy said: bad key ***)",
                         "check endpoints.vlm_url / llm_url ($SDG_VLM_URL / $SDG_LLM_URL)")]
