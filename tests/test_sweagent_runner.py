"""SWE-agent runner: command construction always; a real run only where SWE-agent 1.x is installed."""

from pathlib import Path

import pytest

from sweboard.catalog import load_catalog
from sweboard.runconfig import load_runner_config
from sweboard.runners.base import Attempt
from sweboard.runners.sweagent import KEY_VAR, SweAgentRunner
from sweboard.testbench import taskset

ROOT = Path(__file__).resolve().parents[1]


def make_attempt(tmp_path, model_id="Qwen/Qwen3-Coder-30B-A3B-Instruct"):
    cat = load_catalog(ROOT / "config" / "model_catalog.yaml")
    row = taskset.load_rows()[0]
    return Attempt("r1", cat.get(model_id), row, 1, 42, 45, tmp_path / "a", load_runner_config(ROOT / "config" / "sweagent.yaml"))


def test_command_points_litellm_at_the_catalog_and_keeps_the_key_out(tmp_path, monkeypatch):
    monkeypatch.setenv("CHUTES_BASE_URL", "http://127.0.0.1:8999/v1")
    attempt = make_attempt(tmp_path)
    cmd = SweAgentRunner(docker_args=["--network=host"]).command(attempt, tmp_path / "p.md", tmp_path / "o")
    assert cmd[:2] == ["sweagent", "run"]
    assert "--agent.model.name=openai/Qwen/Qwen3-Coder-30B-A3B-Instruct" in cmd
    assert "--agent.model.api_base=http://127.0.0.1:8999/v1" in cmd
    assert f"--agent.model.api_key=${KEY_VAR}" in cmd
    assert "--agent.model.per_instance_cost_limit=0" in cmd and "--agent.model.total_cost_limit=0" in cmd
    assert f"--env.deployment.image={attempt.row['image']}" in cmd
    assert "--env.deployment.python_standalone_dir=" in cmd
    docker_args = next(c for c in cmd if c.startswith("--env.deployment.docker_args="))
    assert "--network=host" in docker_args and f"sweboard.attempt={attempt.uid}" in docker_args
    assert "--env.repo.type=preexisting" in cmd and "--env.repo.repo_name=testbed" in cmd
    assert f"--problem_statement.id={attempt.instance_id}" in cmd


def test_missing_sweagent_is_a_clear_error(tmp_path):
    runner = SweAgentRunner(executable="sweagent-definitely-not-installed")
    assert not runner.available()
    from sweboard.errors import SweboardError

    with pytest.raises(SweboardError, match="SWE-agent 1.x is not installed"):
        runner.run(make_attempt(tmp_path), None, [])


@pytest.mark.skipif(not SweAgentRunner().available(), reason="SWE-agent 1.x is not installed (not on PyPI)")
def test_command_parses_with_swe_agents_own_cli(tmp_path, monkeypatch):
    """SWE-agent's config classes forbid unknown keys: parsing our command proves every flag exists."""
    from sweagent.run.common import BasicCLI
    from sweagent.run.run_single import RunSingleConfig

    monkeypatch.setenv(KEY_VAR, "sk-test")
    attempt = make_attempt(tmp_path)
    (tmp_path / "p.md").write_text("problem")
    cmd = SweAgentRunner().command(attempt, tmp_path / "p.md", tmp_path / "o")
    cfg = BasicCLI(RunSingleConfig).get_config(cmd[2:])
    assert cfg.agent.model.name == f"openai/{attempt.model.id}"
    assert cfg.agent.model.get_api_keys() == ["sk-test"]
    assert cfg.env.deployment.image == attempt.row["image"] and cfg.env.repo.repo_name == "testbed"
    assert cfg.problem_statement.id == attempt.instance_id


@pytest.mark.skipif(not SweAgentRunner().available(), reason="SWE-agent 1.x is not installed (not on PyPI)")
def test_real_sweagent_against_the_scripted_provider(tmp_path, provider, offline_images):
    attempt = make_attempt(tmp_path, "scripted/solver")
    result = SweAgentRunner(docker_args=["--network=host"]).run(attempt, "sk-no-key-needed", [])
    assert result.status == "submitted", result.error
    assert result.patch.strip() == attempt.row["patch"].strip()
