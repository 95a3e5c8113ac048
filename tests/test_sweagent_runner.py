"""SWE-agent runner: its command is parsed by SWE-agent's own CLI; its exits map onto mini's classes."""

import time
from pathlib import Path

import pytest

from sweboard.catalog import load_catalog
from sweboard.outcomes import agent_failure
from sweboard.runconfig import load_runner_config
from sweboard.runners.base import Attempt
from sweboard.runners.sweagent import KEY_VAR, SweAgentRunner
from sweboard.testbench import taskset

ROOT = Path(__file__).resolve().parents[1]


def make_attempt(tmp_path, model_id="Qwen/Qwen3-Coder-30B-A3B-Instruct"):
    cat = load_catalog(ROOT / "config" / "model_catalog.yaml")
    row = taskset.load_rows()[0]
    return Attempt("r1", cat.get(model_id), row, 1, 42, 45, tmp_path / "a", load_runner_config(ROOT / "config" / "sweagent.yaml"),
                   "http://127.0.0.1:8999/a/tok/v1")


def test_command_uses_the_remote_deployment_and_keeps_the_key_out(tmp_path):
    attempt = make_attempt(tmp_path)
    spec = SweAgentRunner().spec(attempt, tmp_path / "p.md", tmp_path / "o", 4242)
    cmd = spec["args"]
    assert cmd[0] == "run" and f"openai/{attempt.model.id}" in spec["registry"]
    assert "--agent.model.name=openai/Qwen/Qwen3-Coder-30B-A3B-Instruct" in cmd
    assert "--agent.model.api_base=http://127.0.0.1:8999/a/tok/v1" in cmd
    assert f"--agent.model.api_key=${KEY_VAR}" in cmd
    assert "--env.deployment.type=remote" in cmd and "--env.deployment.port=4242" in cmd
    assert "--agent.model.retry.retries=0" in cmd and "--agent.model.per_instance_call_limit=30" in cmd
    assert not any("docker_args" in c or "network" in c for c in cmd)
    assert not any("auth_token" in c for c in cmd), "the relay's secret never goes on an argv"


def test_the_price_registry_is_the_catalogs(tmp_path):
    attempt = make_attempt(tmp_path)
    [(name, entry)] = SweAgentRunner().registry(attempt).items()
    assert name == f"openai/{attempt.model.id}"
    assert entry["input_cost_per_token"] == attempt.model.price_per_1k_input / 1000


@pytest.mark.parametrize("exit_status, submission, last_call, status, error_class", [
    ("submitted", "diff --git a/x b/x", 200, "submitted", ""),
    ("submitted", "", 200, "empty", ""),
    ("exit_format", None, 200, "error", "malformed_output"),
    ("exit_context", None, 200, "error", "context_overflow"),
    ("exit_cost", None, 200, "error", "step_limit"),
    ("submitted (exit_context)", "diff --git a/x b/x", 200, "submitted", ""),  # autosubmitted: graded
    ("submitted (exit_api)", "diff --git a/x b/x", 503, "error", "provider_error"),  # never the model's
    ("exit_error", None, 503, "error", "provider_error"),
    ("exit_error", None, 429, "error", "rate_limited"),
    ("exit_error", None, 404, "error", "model_unavailable"),
    ("exit_error", None, 200, "error", "agent_error"),
    ("exit_environment_error", None, 200, "error", "infra"),
])
def test_exit_statuses_map_onto_the_same_classes_as_mini(exit_status, submission, last_call, status, error_class):
    result = SweAgentRunner.result(exit_status, submission, [{"status": last_call}], time.monotonic(), "t.traj")
    assert (result.status, result.error_class) == (status, error_class)
    if status == "error":
        assert agent_failure({"status": "error", "error_class": error_class, "usage": {"model_calls": 1}}) == error_class


def test_missing_sweagent_is_a_clear_error(tmp_path, monkeypatch):
    from sweboard.errors import SweboardError

    runner = SweAgentRunner()
    monkeypatch.setattr(runner, "version", lambda: None)
    with pytest.raises(SweboardError, match="tools/install_sweagent.sh"):
        runner.run(make_attempt(tmp_path), None, [])


def test_command_parses_with_swe_agents_own_cli(tmp_path, monkeypatch, sweagent):
    """SWE-agent's config classes forbid unknown keys: parsing our command proves every flag exists."""
    from sweagent.run.common import BasicCLI
    from sweagent.run.run_single import RunSingleConfig

    monkeypatch.setenv(KEY_VAR, "sk-test")
    attempt = make_attempt(tmp_path)
    (tmp_path / "p.md").write_text("problem")
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download attempt
    cmd = SweAgentRunner().arguments(attempt, tmp_path / "p.md", tmp_path / "o", 4242)
    cfg = BasicCLI(RunSingleConfig).get_config([*cmd[1:], "--env.deployment.auth_token=" + "ab" * 16])
    assert cfg.agent.model.name == f"openai/{attempt.model.id}"
    assert cfg.agent.model.get_api_keys() == ["sk-test"]
    assert cfg.env.deployment.type == "remote" and cfg.env.deployment.port == 4242
    assert cfg.env.repo.repo_name == "testbed" and cfg.problem_statement.id == attempt.instance_id
