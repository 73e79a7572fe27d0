"""The autoscaling configs a person applies (cluster/aws.yaml, cluster/kuberay.yaml, cluster/Dockerfile) and the
job config for them (configs/carla_cluster.yaml): they parse, declare exactly the custom resources the stages and
Serve apps of that job ask for (taken from the code, not a second list), can hold its plan, and every repo file they
name exists."""
from __future__ import annotations

import re
from contextlib import chdir
from pathlib import Path

import pytest
import yaml

from sdg.autoscaler import load_autoscaler
from sdg.config import RAY_BUILTIN_RESOURCES, load_config
from sdg.pipeline import build_pipeline
from sdg.placement import check_plan
from sdg.plan import make_plan

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_CONFIGS = ("cluster/aws.yaml", "cluster/kuberay.yaml")
JOB = "configs/carla_cluster.yaml"
# a path inside the repo named in a config, a comment or a command (configs/..., cluster/..., sdg/..., serve/...)
REPO_PATH = re.compile(r"(?<![\w./~-])((?:configs|cluster|sdg|serve|benchmarks|tests)/[\w./-]*[\w])")


@pytest.fixture(scope="module")
def job():
    with chdir(ROOT):  # job configs name files relative to the project folder
        return load_config(JOB)


def asked_resources(cfg, tmp: Path) -> set[str]:
    """Custom resource names the job's stages (their footprints, as the executor passes them to Ray Data) and its
    Serve apps (their deployment options) ask for."""
    from serve.apps import augment_app, prompt_app

    names = {k for p in build_pipeline(cfg, tmp).stages for k, _ in p.build().footprint.resources}
    for app in (augment_app(cfg), prompt_app(cfg)):
        names |= set(app._bound_deployment.ray_actor_options.get("resources") or {})
    return names


def test_they_parse():
    aws = yaml.safe_load((ROOT / "cluster/aws.yaml").read_text())
    assert aws["head_node_type"] in aws["available_node_types"]
    docs = [d for d in yaml.safe_load_all((ROOT / "cluster/kuberay.yaml").read_text()) if d]
    assert [d["kind"] for d in docs] == ["RayCluster"] and docs[0]["apiVersion"] == "ray.io/v1"


@pytest.mark.parametrize("path", CLUSTER_CONFIGS)
def test_custom_resources_are_exactly_the_ones_the_job_asks_for(path, job, tmp_path):
    asked = asked_resources(job, tmp_path)
    assert asked == make_plan(job).custom_resources() and asked  # the plan and the code agree, and ask for some
    auto = load_autoscaler(ROOT / path)
    declared = {k for t in auto.node_types for k in t.resources if k not in RAY_BUILTIN_RESOURCES}
    assert declared == asked, f"{path} declares {sorted(declared)}, the job asks for {sorted(asked)}"


@pytest.mark.parametrize("path", CLUSTER_CONFIGS)
def test_the_job_plan_fits_what_the_autoscaler_can_add(path, job):
    auto = load_autoscaler(ROOT / path)
    report = check_plan(make_plan(job), [{"CPU": 0.0}], auto, clips=16)  # a head that takes no pipeline work
    assert report.ok, report.error
    sim = make_plan(job).stages["simulate"]
    carla_nodes = [t for t in auto.node_types if "carla" in t.resources]
    # each simulator actor's GPU and CARLA slot come from one node: 16 actors need nodes with both
    per_node = min(t.resources["carla"] for t in carla_nodes)
    assert sum(report.added_nodes.get(t.name, 0) for t in carla_nodes) == -(-sim.actors // per_node)
    assert all(t.resources.get("GPU", 0) >= t.resources["carla"] * sim.unit.gpus for t in carla_nodes)
    cosmos_nodes = [t for t in auto.node_types if "cosmos" in t.resources]
    assert cosmos_nodes and all(t.resources.get("GPU", 0) == 0 for t in cosmos_nodes)  # the Gradio server owns them


def referenced_paths(text: str) -> set[str]:
    return set(REPO_PATH.findall(text))


@pytest.mark.parametrize("path", [*CLUSTER_CONFIGS, "cluster/Dockerfile", JOB])
def test_every_repo_file_they_name_exists(path):
    text = (ROOT / path).read_text()
    refs = referenced_paths(text)
    assert refs, f"{path} names no repo file"
    missing = sorted(r for r in refs if not (ROOT / r).exists())
    assert not missing, f"{path} names files that do not exist: {missing}"


def test_aws_file_mounts_and_dockerfile_copies_exist():
    aws = yaml.safe_load((ROOT / "cluster/aws.yaml").read_text())
    mounts = aws["file_mounts"]
    assert mounts and all((ROOT / local).exists() for local in mounts.values()), mounts
    installed = [c for c in aws["setup_commands"] if "pip install" in c and " -e " in c]
    target = installed[0].split(" -e ")[1].split()[0]
    assert f"{target}/pyproject.toml" in mounts and f"{target}/sdg" in mounts  # pip installs what is mounted
    copies = re.findall(r"^COPY (?!--from)(?:--\S+ )*(.+) \S+$", (ROOT / "cluster/Dockerfile").read_text(), re.M)
    sources = [s for line in copies for s in line.split()]
    assert sources and all((ROOT / s).exists() for s in sources), sources


def test_carla_is_where_the_server_command_starts_it(job):
    command = job.endpoints.carla.server_command.split()[0]
    assert command == "/opt/carla/CarlaUE4.sh"
    carla_dir = str(Path(command).parent)
    aws = yaml.safe_load((ROOT / "cluster/aws.yaml").read_text())
    carla_type = next(t for t in aws["available_node_types"].values() if "carla" in t.get("resources", {}))
    assert any(carla_dir in c for c in carla_type["worker_setup_commands"])
    assert f"/home/carla {carla_dir}" in (ROOT / "cluster/Dockerfile").read_text()
    kube = yaml.safe_load((ROOT / "cluster/kuberay.yaml").read_text())
    groups = {g["groupName"]: g for g in kube["spec"]["workerGroupSpecs"]}
    carla_image = groups["carla-gpu"]["template"]["spec"]["containers"][0]["image"]
    assert carla_image.split(":")[0].endswith("sdg-carla")  # the Dockerfile's `carla` target


def test_the_job_config_validates_and_fits_its_cluster(capsys, monkeypatch):
    from sdg.cli import main

    monkeypatch.chdir(ROOT)
    assert main(["validate", JOB]) == 0
    out = capsys.readouterr().out
    assert f"{JOB}: ok — 2 clip(s), 4 variant(s) each" in out
    assert "stage 'simulate': 16 actors × {CPU: 4, GPU: 1, carla: 1}" in out
    assert "Serve app 'augment': 1..16 replicas (autoscaling) × {CPU: 1, cosmos: 1}" in out
    assert "fits cluster/aws.yaml: needs 1 × cosmos_gpu, 4 × carla_gpu" in out
