import textwrap

import pytest

from sdg.config import ConfigError, load_config, parse_config

BASE = {"name": "t", "cameras": [{"name": "c"}], "scenarios": [{"id": "s"}]}


def _with(**over):
    d = {k: (list(v) if isinstance(v, list) else v) for k, v in BASE.items()}
    d.update(over)
    return d


def test_minimal_config_defaults():
    cfg = parse_config(_with())
    assert cfg.scenarios[0].kind == "builtin"
    assert cfg.backends.simulator == "builtin" and cfg.augmentation.variants == 2


@pytest.mark.parametrize(
    "over, field",
    [
        ({"cameras": [{"name": "c", "fov": 0}]}, "cameras.0.fov"),
        ({"cameras": [{"name": "c", "fov": 180}]}, "cameras.0.fov"),
        ({"scenarios": [{"id": "s", "duration": -1}]}, "scenarios.0.duration"),
        ({"scenarios": [{"id": "s", "bogus": 1}]}, "scenarios.0.bogus"),
        ({"scenarios": [{"id": "s", "kind": "nope"}]}, "scenarios.0"),
        ({"backends": {"simulator": "unreal"}}, "backends.simulator"),
        ({"augmentation": {"variants": 0}}, "augmentation.variants"),
        ({"scenarios": [{"id": "s", "cameras": ["zzz"]}]}, "unknown camera 'zzz'"),
        ({"typo_key": 3}, "typo_key"),
    ],
)
def test_bad_values_name_the_field(over, field):
    with pytest.raises(ConfigError) as e:
        parse_config(_with(**over), "job.yaml")
    assert "job.yaml" in str(e.value) and field in str(e.value)


def test_malformed_yaml_names_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ncameras: [\n  - oops: : :\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert str(p) in str(e.value) and "line" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_env_overrides_endpoints(monkeypatch):
    monkeypatch.setenv("SDG_COSMOS_URL", "http://127.0.0.1:7860")
    cfg = parse_config(_with(endpoints={"cosmos_url": "http://elsewhere:1"}))
    assert cfg.endpoints.cosmos_url == "http://127.0.0.1:7860"


def test_relative_paths_resolve_against_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.yaml").write_text(textwrap.dedent("""
        name: j
        cameras: [{name: c, yaml: cams/c.yaml}]
        scenarios: [{id: r, kind: recording, log: logs/a.log}]
    """))
    cfg = load_config("j.yaml")
    assert cfg.cameras[0].yaml == tmp_path / "cams" / "c.yaml"
    assert cfg.scenarios[0].log == tmp_path / "logs" / "a.log"
