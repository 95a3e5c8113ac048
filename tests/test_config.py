"""Catalog, slices and runner config: what the plan names, and clear errors for bad input."""

from pathlib import Path

import pytest
import yaml

from sweboard.catalog import load_catalog
from sweboard.errors import SweboardError
from sweboard.instances import load_slice
from sweboard.runconfig import load_runner_config

ROOT = Path(__file__).resolve().parents[1]
LITE_DEV = ROOT.parent / "shared" / "data" / "swe-bench-lite-dev" / "lite_dev_summary.tsv"
CHUTES = ["Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8", "Qwen/Qwen3-Coder-30B-A3B-Instruct",
          "moonshotai/Kimi-K2-Instruct-0905", "moonshotai/Kimi-K2-Instruct-75k", "zai-org/GLM-4.5-FP8",
          "zai-org/GLM-4.5-Air"]


def test_catalog_has_the_plan_models_and_the_baseline():
    cat = load_catalog(ROOT / "config" / "model_catalog.yaml")
    for model_id in CHUTES:
        assert cat.get(model_id).provider.name == "chutes"
    assert sum(m.provider.name == "openrouter" for m in cat.models.values()) >= 4
    assert cat.get("instant_empty_submit").is_baseline
    assert all(m.test_equipment for m in cat.models.values() if m.id.startswith("scripted/"))
    assert not any(m.test_equipment for m in cat.models.values() if m.provider.name in ("chutes", "openrouter"))


def test_base_url_env_override(monkeypatch):
    cat = load_catalog(ROOT / "config" / "model_catalog.yaml")
    chutes = cat.get(CHUTES[0]).provider
    monkeypatch.delenv("CHUTES_BASE_URL", raising=False)
    assert chutes.base_url() == "https://llm.chutes.ai/v1"
    monkeypatch.setenv("CHUTES_BASE_URL", "http://127.0.0.1:9/v1")
    assert chutes.base_url() == "http://127.0.0.1:9/v1"
    assert cat.get(CHUTES[0]).public_dict()["api_key_env"] == "CHUTES_API_KEY"


def test_bad_catalog_names_file_and_field(tmp_path):
    bad = tmp_path / "model_catalog.yaml"
    bad.write_text(yaml.safe_dump({"providers": {"chutes": {}}, "models": [{"id": "x", "provider": "nowhere"}]}))
    with pytest.raises(SweboardError, match=r"models\[0\]\.provider: 'nowhere'"):
        load_catalog(bad)
    bad.write_text("providers: [unclosed\n")
    with pytest.raises(SweboardError, match="not valid YAML"):
        load_catalog(bad)


def test_i0_slice_is_the_three_sqlfluff_tasks():
    sl = load_slice(ROOT / "config" / "instances_i0.yaml", "swe-bench-lite")
    assert sl.instance_ids == ("sqlfluff__sqlfluff-1625", "sqlfluff__sqlfluff-1733", "sqlfluff__sqlfluff-2419")
    assert sl.split == "dev"
    import re

    assert all(re.match(sl.filter_regex(), i) for i in sl.instance_ids)
    assert not re.match(sl.filter_regex(), "sqlfluff__sqlfluff-16250")


@pytest.mark.skipif(not LITE_DEV.exists(), reason="reference Lite dev rows not on this machine")
def test_i0_ids_exist_in_the_real_lite_dev_split():
    known = {line.split("\t")[0] for line in LITE_DEV.read_text().splitlines()[1:]}
    sl = load_slice(ROOT / "config" / "instances_i0.yaml", "swe-bench-lite")
    assert set(sl.instance_ids) <= known


def test_bad_slice_section_and_entries(tmp_path):
    with pytest.raises(SweboardError, match="no section 'nope'"):
        load_slice(ROOT / "config" / "instances_i0.yaml", "nope")
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump({"x": {"dataset_lock": "l", "split": "dev", "instances": ["a", "a"]}}))
    with pytest.raises(SweboardError, match="duplicate ids"):
        load_slice(f, "x")


def test_runner_config_defaults_and_errors(tmp_path):
    cfg = load_runner_config(ROOT / "config" / "sweagent.yaml")
    assert cfg.runner == "mini" and cfg.attempt_timeout_seconds == 45 and cfg.temperature == 0
    with pytest.raises(SweboardError, match=r"--set tiemout: unknown setting; settings are those of sweagent.yaml"):
        load_runner_config(ROOT / "config" / "sweagent.yaml", {"tiemout": 3})
    with pytest.raises(SweboardError, match=r"--set atempts: unknown setting \(did you mean attempts\?\)"):
        load_runner_config(ROOT / "config" / "sweagent.yaml", {"atempts": 2})
    bad = tmp_path / "bad.yaml"
    bad.write_text("tiemout: 3\n")
    with pytest.raises(SweboardError, match=r"bad.yaml: unknown settings \['tiemout'\]"):
        load_runner_config(bad)
    with pytest.raises(SweboardError, match=r"attempt_timeout_seconds: expected float"):
        load_runner_config(ROOT / "config" / "sweagent.yaml", {"attempt_timeout_seconds": "soon"})


def test_overrides_need_a_reason_and_apply_per_model_or_task(tmp_path):
    base = (ROOT / "config" / "sweagent.yaml").read_text().replace("overrides: []", "")
    f = tmp_path / "sweagent.yaml"
    f.write_text(base + "overrides:\n  - {instance: t1, attempt_timeout_seconds: 60}\n")
    with pytest.raises(SweboardError, match=r"overrides\[0\]\.reason: required"):
        load_runner_config(f)
    f.write_text(base + "overrides:\n  - {model: m, attempts: 4, reason: x}\n")
    with pytest.raises(SweboardError, match="K=3 at most"):
        load_runner_config(f)
    f.write_text(base + "overrides:\n"
                 "  - {instance: t1, attempt_timeout_seconds: 60, reason: 'timed out at 45 s in run r1'}\n"
                 "  - {model: m, attempts: 3, reason: 'flaky tool calls'}\n")
    cfg = load_runner_config(f, {"attempts": 2})
    assert cfg.timeout_for("any", "t1") == (60.0, "timed out at 45 s in run r1")
    assert cfg.timeout_for("any", "t2") == (45.0, "")
    assert cfg.attempts_for("m", "t2") == (3, "flaky tool calls")
    assert cfg.attempts_for("other", "t2") == (2, "")
    with pytest.raises(SweboardError, match="expected true or false"):
        load_runner_config(f, {"stop_after_resolved": "maybe"})
    assert load_runner_config(f, {"stop_after_resolved": "false"}).stop_after_resolved is False
