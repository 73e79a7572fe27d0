"""The resource plan (sdg.plan) and its check against a cluster (sdg.placement): config keys -> what each stage and
Serve app reserves, placement per node on synthetic node lists with and without autoscaler headroom, warnings with
the number to change, and the check on the live test cluster (a plan that cannot be placed writes nothing)."""
from __future__ import annotations

import json

import pytest
from conftest import small_job

from sdg.autoscaler import Autoscaler, NodeType, from_kuberay, load_autoscaler
from sdg.config import STAGE_NAMES, ConfigError, parse_config
from sdg.pipeline import build_pipeline
from sdg.placement import PlanError, check_plan, node_resources, validate_plan
from sdg.plan import APP_NAMES, app_needs, make_plan, replica_needs
from sdg.serving.contract import AUGMENT_APP, PROMPT_APP
from sdg.stages.base import Footprint


def job(resources=None, **over):
    base = small_job()["resources"]
    return parse_config(small_job(resources={**base, **(resources or {})}, **over))


CARLA = {"simulators": 16, "simulator_cpus": 4, "simulator_gpus": 1, "stage_cpus": 1, "augmenters": 2,
         "stages": {"simulate": {"resources": {"carla": 1}}}}
HEAD = {"CPU": 0.0}
AWS_LIKE = Autoscaler("test.yaml", (NodeType("cpu", {"CPU": 32}, 10), NodeType("carla_gpu",
                                    {"CPU": 48, "GPU": 4, "carla": 4}, 4)), max_workers=20)


# ------------------------------------------------------------------------------------------------ config -> plan
def test_stage_names_are_the_pipelines_and_app_names_the_serve_contracts(tmp_path):
    assert build_pipeline(job(), tmp_path).names == list(STAGE_NAMES)
    assert APP_NAMES == (AUGMENT_APP, PROMPT_APP)


def test_footprints_come_from_the_plan(tmp_path):
    cfg = job({"simulators": 3, "simulator_gpus": 1, "stages": {
        "simulate": {"resources": {"carla": 1}}, "postprocess": {"cpus": 1.5, "concurrency": 4},
        "write": {"resources": {"disk": 0.5}}}})
    fps = {p.name: p.build().footprint for p in build_pipeline(cfg, tmp_path).stages}
    assert fps["simulate"] == Footprint(num_cpus=0.5, num_gpus=1.0, actors=3, resources=(("carla", 1.0),))
    assert fps["augment"] == Footprint(num_cpus=0.25, actors=1)
    assert fps["groundtruth"] == Footprint(num_cpus=0.25)
    assert fps["postprocess"] == Footprint(num_cpus=1.5, concurrency=4)
    assert fps["write"] == Footprint(num_cpus=0.25, resources=(("disk", 0.5),))


def test_carla_gpus_default_to_the_endpoint_and_builtin_to_zero():
    assert make_plan(job()).stages["simulate"].unit.gpus == 0.0
    carla = job(backends={"simulator": "carla"}, endpoints={"carla": {"gpus_per_actor": 0.5}})
    assert make_plan(carla).stages["simulate"].unit.gpus == 0.5
    assert make_plan(job({"simulator_gpus": 2}, backends={"simulator": "carla"})).stages["simulate"].unit.gpus == 2.0


def test_serve_apps_replicas_and_bounds(monkeypatch):
    monkeypatch.delenv("SDG_COSMOS_URL", raising=False)
    builtin = job({"augmenters": 3}, backends={"serve": "always"})
    plan = make_plan(builtin)
    assert set(plan.serve) == {"augment", "prompt"}
    assert plan.serve["augment"].deployment_options() == {
        "autoscaling_config": {"min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 1.0},
        "ray_actor_options": {"num_cpus": 0.25, "num_gpus": 0.0}}
    assert plan.serve["prompt"].deployment_options()["autoscaling_config"] == {
        "min_replicas": 1, "max_replicas": 3, "target_ongoing_requests": 4.0}
    cosmos = job({"gpus_per_augmenter": 1}, backends={"augmenter": "cosmos", "prompts": "nim"},
                 endpoints={"cosmos_url": "http://a:1,http://b:1"})
    assert app_needs(cosmos, "augment").deployment_options() == {
        "num_replicas": 2, "ray_actor_options": {"num_cpus": 0.25, "num_gpus": 1.0}}
    assert replica_needs(cosmos) == {"augment": {"CPU": 0.25, "GPU": 1.0}, "prompt": {"CPU": 0.25}}
    scaled = job({"serve": {"augment": {"min_replicas": 2, "max_replicas": 6, "resources": {"cosmos": 1}},
                            "prompt": {"replicas": 3, "cpus": 0.1}}},
                 backends={"augmenter": "cosmos", "prompts": "nim"}, endpoints={"cosmos_url": "http://127.0.0.1:8080"})
    assert app_needs(scaled, "augment").deployment_options() == {
        "autoscaling_config": {"min_replicas": 2, "max_replicas": 6, "target_ongoing_requests": 1.0},
        "ray_actor_options": {"num_cpus": 0.25, "num_gpus": 0.0, "resources": {"cosmos": 1.0}}}
    assert app_needs(scaled, "prompt").deployment_options() == {
        "num_replicas": 3, "ray_actor_options": {"num_cpus": 0.1, "num_gpus": 0.0}}
    assert make_plan(job()).serve == {}  # builtin backends, serve auto: no Serve apps, nothing reserved for them


def test_serve_apps_take_their_options_from_the_plan(monkeypatch):
    from serve.apps import augment_app, prompt_app

    cfg = job({"serve": {"augment": {"replicas": 2, "resources": {"cosmos": 1}}, "prompt": {"max_replicas": 5}}},
              backends={"serve": "always"})
    aug, prompt = augment_app(cfg), prompt_app(cfg)
    dep = aug._bound_deployment
    assert dep.num_replicas == 2
    assert dep.ray_actor_options["resources"] == {"cosmos": 1.0} and dep.ray_actor_options["num_cpus"] == 0.25
    assert prompt._bound_deployment._deployment_config.autoscaling_config.max_replicas == 5


@pytest.mark.parametrize("resources, field, words", [
    ({"simulators": 2, "stages": {"simulate": {"concurrency": 2}}}, "resources",
     "stages.simulate.concurrency and simulators set the same thing"),
    ({"augmenters": 2, "stages": {"augment": {"concurrency": 3}}}, "resources", "keep one"),
    ({"stages": {"simulate": {"resources": {"GPU": 1}}}}, "resources.stages.simulate.resources",
     "'GPU' is not a custom resource name"),
    ({"stages": {"render": {"cpus": 1}}}, "resources.stages.render.[key]", "Input should be 'simulate'"),
    ({"serve": {"augment": {"replicas": 2, "max_replicas": 4}}}, "resources.serve.augment",
     "either replicas"),
    ({"serve": {"prompt": {"min_replicas": 5, "max_replicas": 4}}}, "resources.serve.prompt",
     "min_replicas 5 > max_replicas 4"),
])
def test_bad_plans_are_config_errors_naming_the_field(resources, field, words):
    with pytest.raises(ConfigError) as e:
        job(resources)
    line = next(x for x in str(e.value).splitlines() if words in x)
    assert line.strip().startswith(f"{field}:"), str(e.value)


# ------------------------------------------------------------------------------------------------ placement
def test_a_fitting_plan_and_a_gpu_nobody_has():
    assert check_plan(make_plan(job()), [{"CPU": 2}]).ok
    report = check_plan(make_plan(job({"simulator_gpus": 1})), [{"CPU": 2}])
    assert report.error == (
        "resources: stage 'simulate' cannot be placed: each actor asks for {CPU: 0.5, GPU: 1}, but no node has GPU; "
        "the cluster has {CPU: 2} on 1 node, and no autoscaler is configured (resources.cluster_config). "
        "Change resources.simulator_gpus, or add nodes that have it")


def test_one_node_must_have_all_a_unit_asks_for():
    plan = make_plan(job({"simulator_gpus": 1, "stages": {"simulate": {"resources": {"carla": 1}}}}))
    split = [{"CPU": 4, "GPU": 1}, {"CPU": 4, "carla": 1}]  # GPU here, carla there: the cluster has both, no node
    report = check_plan(plan, split)
    assert "no single node has all of {CPU: 0.5, GPU: 1, carla: 1} together" in report.error
    assert "the cluster has {CPU: 8, GPU: 1, carla: 1} on 2 nodes" in report.error
    assert check_plan(plan, [{"CPU": 4}, {"CPU": 4, "GPU": 1, "carla": 1}]).ok


def test_a_custom_resource_nobody_has_names_it_and_its_key():
    report = check_plan(make_plan(job({"stages": {"groundtruth": {"resources": {"lidar": 2}}}})),
                        [{"CPU": 2, "lidar": 1}])
    assert report.error.startswith("resources: stage 'groundtruth' cannot be placed: each task asks for "
                                   "{CPU: 0.25, lidar: 2}, but no node has 2 lidar (the most on one node: 1)")
    assert "Change resources.stages.groundtruth.resources" in report.error


def test_too_many_actors_name_the_count_that_fits_beside_the_rest():
    # 2 CPUs: augment actor 0.25 + room for one 0.25 task -> at most 3 simulator actors of 0.5
    report = check_plan(make_plan(job({"simulators": 5})), [{"CPU": 2}])
    assert report.error.startswith("resources: stage 'simulate' cannot be placed: its 5 actors ask for {CPU: 0.5} "
                                   "each, and only 3 fit beside the rest of the plan;")
    assert "Fix: set resources.simulators to 3 (or lower resources.simulator_cpus)" in report.error
    assert check_plan(make_plan(job({"simulators": 3})), [{"CPU": 2}]).ok


def test_tasks_need_room_next_to_what_actors_and_replicas_hold(monkeypatch):
    monkeypatch.delenv("SDG_COSMOS_URL", raising=False)
    # Serve replicas (0.25 + 0.25) + simulate 1.0 + augment 0.5 = 2.0: no CPU left for any task -> a hang, named
    cfg = job({"simulator_cpus": 1.0, "stages": {"augment": {"cpus": 0.5}}}, backends={"serve": "always"})
    report = check_plan(make_plan(cfg), [{"CPU": 2}])
    assert report.error.startswith(
        "resources: stage 'groundtruth' cannot be placed: one task asks for {CPU: 0.25} and none fits beside what "
        "the actors and replicas hold for the whole run (Serve app 'augment' 1 × {CPU: 0.25}; Serve app 'prompt' "
        "1 × {CPU: 0.25}; stage 'simulate' 1 × {CPU: 1}; stage 'augment' 1 × {CPU: 0.5}), so the pipeline would "
        "wait forever")
    assert "Lower resources.stage_cpus, resources.simulator_cpus, resources.stages.augment.cpus" in report.error


def test_the_autoscaler_adds_nodes_up_to_each_types_maximum():
    plan = make_plan(job(CARLA))
    fits = check_plan(plan, [HEAD], AWS_LIKE)
    assert fits.ok and fits.added_nodes["carla_gpu"] == 4  # 16 actors, 4 per node
    small = Autoscaler("small.yaml", (NodeType("cpu", {"CPU": 32}, 10),
                                      NodeType("carla_gpu", {"CPU": 48, "GPU": 4, "carla": 4}, 3)))
    report = check_plan(plan, [HEAD], small)
    assert "its 16 actors ask for {CPU: 4, GPU: 1, carla: 1} each, and only 12 fit" in report.error
    assert "the autoscaler (small.yaml) can add cpu up to 10 × {CPU: 32}, carla_gpu up to 3 × {CPU: 48, GPU: 4, " \
           "carla: 4}" in report.error
    assert "set resources.simulators to 12" in report.error
    # nodes already up count against their type's maximum
    up = [HEAD, {"CPU": 48, "GPU": 4, "carla": 4}, {"CPU": 48, "GPU": 4, "carla": 4}]
    assert "only 12 fit" in check_plan(plan, up, Autoscaler("t", small.node_types[:1] + (
        NodeType("carla_gpu", {"CPU": 48, "GPU": 4, "carla": 4}, 3),))).error
    # and the cluster-wide max_workers caps them all
    capped = Autoscaler("capped.yaml", AWS_LIKE.node_types, max_workers=2)
    assert "only 8 fit" in check_plan(plan, [HEAD], capped).error


def test_no_node_type_has_it_names_the_autoscaler_too():
    report = check_plan(make_plan(job({"stages": {"simulate": {"resources": {"cosmos": 1}}}})), [HEAD], AWS_LIKE)
    assert "but no node has cosmos; the cluster has {CPU: 0} on 1 node; the autoscaler (test.yaml) can add" \
           in report.error


# ------------------------------------------------------------------------------------------------ idle warnings
def test_more_simulators_than_clips_warns_with_the_number():
    report = check_plan(make_plan(job(CARLA)), [HEAD], AWS_LIKE, clips=4)
    assert report.ok
    assert "resources.simulators is 16 but this run has 4 clip(s): 12 simulate actor(s) (12 GPUs) would idle; " \
           "set resources.simulators: 4" in report.warnings


def test_more_cosmos_replicas_than_requests_in_flight_warns_with_the_number():
    urls = ",".join(f"http://c{i}:8080" for i in range(8))
    cfg = job({"augmenters": 2, "gpus_per_augmenter": 1}, augmentation={"variants": 2},
              backends={"augmenter": "cosmos", "prompts": "nim"}, endpoints={"cosmos_url": urls})
    report = check_plan(make_plan(cfg), [{"CPU": 8, "GPU": 8}], clips=10)
    assert report.warnings == [
        "Serve app 'augment' keeps 8 replicas but at most 4 augment request(s) are in flight (2 augment actor(s) × 2 "
        "variant(s)): 4 replica(s), 4 GPUs and their servers would idle; set resources.serve.augment.replicas: 4 "
        "(or raise resources.augmenters to 4)"]
    # fewer clips than augment actors: the clips bound what is in flight
    few = check_plan(make_plan(cfg), [{"CPU": 8, "GPU": 8}], clips=1)
    assert any("at most 2 augment request(s) are in flight (1 augment actor(s) × 2 variant(s))" in w
               for w in few.warnings)
    assert check_plan(make_plan(job({"augmenters": 4}, augmentation={"variants": 2}, backends={
        "augmenter": "cosmos", "prompts": "nim"}, endpoints={"cosmos_url": urls})), [{"CPU": 8}], clips=10).warnings \
        == []


# ------------------------------------------------------------------------------------------------ autoscaler configs
def test_kuberay_groups_read_like_kuberay_starts_them(tmp_path):
    params = {"num-gpus": "0", "resources": '"{\\"cosmos\\": 1}"'}
    group = {"groupName": "g", "maxReplicas": 7, "rayStartParams": params,
             "template": {"spec": {"containers": [
                 {"name": "ray-worker", "resources": {"limits": {"cpu": "3500m", "nvidia.com/gpu": 1}}},
                 {"name": "sidecar", "resources": {"limits": {"cpu": "12", "nvidia.com/gpu": 1}}}]}}}
    job_doc = {"apiVersion": "ray.io/v1", "kind": "RayJob", "spec": {"rayClusterSpec": {"workerGroupSpecs": [group]}}}
    auto = from_kuberay(job_doc, "job.yaml")
    assert auto.node_types == (NodeType("g", {"CPU": 3.0, "cosmos": 1.0}, 7),)
    p = tmp_path / "k.yaml"
    p.write_text("---\n" + json.dumps({"kind": "ConfigMap"}) + "\n---\n" + json.dumps(job_doc))
    assert load_autoscaler(p).node_types == auto.node_types
    p.write_text("kind: Deployment\n")
    with pytest.raises(ConfigError, match=r"k.yaml: neither a Ray cluster launcher config"):
        load_autoscaler(p)
    with pytest.raises(ConfigError, match=r"nope.yaml: no such cluster config \(resources.cluster_config\)"):
        load_autoscaler(tmp_path / "nope.yaml")


def test_node_resources_drop_rays_markers():
    assert node_resources({"CPU": 2.0, "node:10.0.0.1": 1.0, "node:__internal_head__": 1.0, "memory": 1e9,
                           "object_store_memory": 1e9, "accelerator_type:A10G": 1.0, "carla": 1.0, "GPU": 0.0}) \
        == {"CPU": 2.0, "carla": 1.0}


# ------------------------------------------------------------------------------------------------ on the live cluster
def test_validate_on_the_test_cluster(ray_cluster, tmp_path):
    from sdg.run import run_job

    report = validate_plan(job(), clips=1)
    assert report.ok and report.warnings == [] and report.added_nodes == {}
    with pytest.raises(PlanError, match=r"only 3 fit .*has \{CPU: 2\} on 1 node.*set resources.simulators to 3 "):
        validate_plan(job({"simulators": 5}), clips=1)
    # a named autoscaler config is read when the running cluster reports none
    cfg = job({"simulator_gpus": 1, "cluster_config": str(tmp_path / "missing.yaml")})
    with pytest.raises(PlanError, match=r"missing.yaml: no such cluster config"):
        validate_plan(cfg, clips=1)
    # through run_job: the error comes before anything is written
    out = tmp_path / "out"
    with pytest.raises(PlanError, match=r"stage 'simulate' cannot be placed: each actor asks for \{CPU: 0.5, GPU: 1\}"):
        run_job(job({"simulator_gpus": 1}), out, executor="ray")
    assert not out.exists()


# ------------------------------------------------------------------------------------------------ `sdg run`
@pytest.mark.slow
def test_sdg_run_with_a_plan_no_node_can_hold_exits_2_fast_and_writes_nothing(tmp_path):
    """The CLI on its own local Ray (2 CPUs, no `carla` resource): one line naming the stage and the resource, exit
    2, no output folder. The subprocess timeout is the guard against a hang (Ray would wait for `carla` forever)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    cfg = small_job(resources={**small_job()["resources"], "stages": {"simulate": {"resources": {"carla": 1}}}})
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "sdg.cli", "run", str(path), "--output", str(out)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert errors[0].startswith("error: resources: stage 'simulate' cannot be placed: each actor asks for "
                                "{CPU: 0.5, carla: 1}, but no node has carla; the cluster has {CPU: 2} on 1 node")
    assert "Change resources.stages.simulate.resources" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
