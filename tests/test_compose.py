"""cluster/compose: the GPU services' compose stack, read as YAML (no Docker engine here). Every service a job config
in configs/ names has a health check on the right route and a GPU reservation by id; env.example defines every
variable the compose file uses and holds no secret; the stack's ports, models and images agree with sdg's defaults,
configs/demo_cosmos.yaml and the README's two-host settings."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from sdg.augment.cosmos_model import MODEL_CONTROLS
from sdg.config import Endpoints

REPO = Path(__file__).resolve().parents[1]
COMPOSE = REPO / "cluster" / "compose"
# backend setting of a job config -> the compose services it needs
NEEDS = {("simulator", "carla"): ["carla"], ("augmenter", "cosmos"): ["cosmos-transfer"],
         ("prompts", "nim"): ["nim-vlm", "nim-llm"]}
SECRETS = ("NGC_API_KEY", "HF_TOKEN")


@pytest.fixture(scope="module")
def text() -> str:
    return (COMPOSE / "compose.yaml").read_text()


@pytest.fixture(scope="module")
def services(text) -> dict:
    doc = yaml.safe_load(text)
    assert set(doc) == {"name", "services"}
    return doc["services"]


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    out = {}
    for line in (COMPOSE / "env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
            assert key not in out, f"{key} defined twice"
            out[key] = value
    return out


def _interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default} with env.example's values."""
    def sub(m):
        name, default = m.group(1), m.group(3)
        return env[name] if env.get(name) else (default or "")
    return re.sub(r"\$\{([A-Z_][A-Z0-9_]*)(:?-([^}]*))?\}", sub, value)


def _job_configs() -> list[tuple[str, dict]]:
    out = []
    for p in sorted((REPO / "configs").glob("*.yaml")):
        doc = yaml.safe_load(p.read_text())
        if isinstance(doc, dict) and "backends" in doc:
            out.append((p.name, doc))
    return out


def test_every_service_a_config_names_has_a_health_check_and_a_gpu(services):
    named = {svc for _, cfg in _job_configs() for (key, value), svcs in NEEDS.items()
             if cfg["backends"].get(key) == value for svc in svcs}
    assert named == {"carla", "cosmos-transfer", "nim-vlm", "nim-llm"}  # demo_cosmos + carla_cluster name them all
    assert set(services) == named
    for name in named:
        svc = services[name]
        hc = svc["healthcheck"]
        assert hc["test"][0] == "CMD" and len(hc["test"]) > 2, name
        for k in ("interval", "timeout", "retries", "start_period"):
            assert k in hc, (name, k)
        devices = svc["deploy"]["resources"]["reservations"]["devices"]
        assert len(devices) == 1 and devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
        ids = devices[0]["device_ids"]
        assert len(ids) == 1 and re.fullmatch(r"\$\{[A-Z]+_GPU_ID:-\d\}", ids[0]), (name, ids)
        assert svc["network_mode"] == "host" and svc["restart"] == "unless-stopped"
        assert svc["profiles"] == (["carla"] if name == "carla" else ["models"])


def test_health_checks_probe_each_services_own_route(services, env):
    def probe(name):
        return _interpolate(" ".join(services[name]["healthcheck"]["test"][1:]), env)

    assert "http://127.0.0.1:8001/v1/health/ready" in probe("nim-vlm")
    assert "http://127.0.0.1:8002/v1/health/ready" in probe("nim-llm")
    assert probe("cosmos-transfer").endswith("http://127.0.0.1:8080/")
    assert "/dev/tcp/127.0.0.1/2000" in probe("carla")


def test_gpu_pinning_is_one_distinct_gpu_per_service(services, env):
    ids = {n: _interpolate(s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0], env)
           for n, s in services.items()}
    assert ids == {"carla": "0", "nim-vlm": "1", "nim-llm": "2", "cosmos-transfer": "3"}


def test_env_example_defines_every_variable_and_no_secret(text, env):
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    assert used, "the compose file uses variables"
    assert used - set(env) == set(), f"used in compose.yaml but missing from env.example: {sorted(used - set(env))}"
    assert "COMPOSE_PROFILES" in env and set(env["COMPOSE_PROFILES"].split(",")) == {"models", "carla"}
    for key in SECRETS:
        assert key in used and env[key] == "", f"{key} must stay empty in env.example"
    # a secret is never written into the file, only passed through from the environment
    for svc in yaml.safe_load(text)["services"].values():
        for key, value in (svc.get("environment") or {}).items():
            if key in SECRETS:
                assert value == f"${{{key}}}"
    assert (COMPOSE / ".gitignore").read_text().split() == [".env"]


def test_the_stack_serves_what_sdg_expects(services, env):
    ep = Endpoints()
    # the NIM images serve sdg's default model ids (nvcr.io/nim/<org>/<model>:<tag> -> <org>/<model>)
    for svc, model in (("nim-vlm", ep.vlm_model), ("nim-llm", ep.llm_model)):
        image = _interpolate(services[svc]["image"], env)
        assert re.fullmatch(r"nvcr\.io/nim/(.+):[^:]+", image).group(1) == model
        assert _interpolate(str(services[svc]["environment"]["NIM_SERVER_PORT"]), env) == \
            {"nim-vlm": "8001", "nim-llm": "8002"}[svc]
    assert (_interpolate(services["nim-vlm"]["image"], env), _interpolate(services["nim-llm"]["image"], env)) == \
        ("nvcr.io/nim/nvidia/cosmos-reason1-7b:1.4.0", "nvcr.io/nim/nvidia/nvidia-nemotron-nano-9b-v2:1")
    # Cosmos-Transfer: one model, the one sdg and configs/demo_cosmos.yaml expect, from the v1.3.0 launcher
    cosmos = services["cosmos-transfer"]
    model = _interpolate(cosmos["environment"]["MODEL_NAME"], env)
    demo = yaml.safe_load((REPO / "configs" / "demo_cosmos.yaml").read_text())
    assert model == ep.cosmos_model == demo["endpoints"]["cosmos_model"] == "edge" and model in MODEL_CONTROLS
    assert set(demo["augmentation"]["controls"]) <= set(MODEL_CONTROLS[model])
    assert demo["endpoints"]["llm_model"] == ep.llm_model and demo["endpoints"]["vlm_model"] == ep.vlm_model
    assert "python -m cosmos_transfer2.gradio.gradio_bootstrapper" in cosmos["command"][0]
    assert _interpolate(cosmos["build"]["context"], env).endswith("cosmos-transfer2.5.git#v1.3.0")
    assert "v1.3.0" in _interpolate(cosmos["command"][0], env)
    # CARLA: the server the carla client package matches, off-screen, on the configured ports
    carla = services["carla"]
    assert _interpolate(carla["image"], env) == "carlasim/carla:0.9.16"
    assert '"carla==0.9.16"' in (REPO / "pyproject.toml").read_text()
    cmd = [_interpolate(c, env) for c in carla["command"]]
    assert "-RenderOffScreen" in cmd and "-carla-rpc-port=2000" in cmd and "-carla-streaming-port=2001" in cmd


def test_readme_gives_the_two_host_settings(env):
    readme = (REPO / "README.md").read_text()
    for var, port in (("SDG_VLM_URL", env["VLM_PORT"]), ("SDG_LLM_URL", env["LLM_PORT"]), ("SDG_COSMOS_URL", "8080")):
        assert f"export {var}=http://services-host:{port}" in readme, var
    assert "COMPOSE_PROFILES=models" in readme and "COMPOSE_PROFILES=carla" in readme
    assert "cp env.example .env" in readme and "ray start --head" in readme
