"""The scripted provider over real HTTP on 127.0.0.1."""

import base64
import json
import time
import urllib.error
import urllib.request

import pytest

from sweboard.testbench import taskset
from sweboard.testbench.provider import FINGERPRINT, MINI_SENTINEL, ProviderSettings, ScriptedProvider

ROW = next(r for r in taskset.load_rows() if r["instance_id"] == "sweboard-fixtures__tinycalc-1")
MINI_TOOLS = [{"type": "function", "function": {"name": "bash"}}]
SWEAGENT_TOOLS = [{"type": "function", "function": {"name": n}} for n in ("bash", "str_replace_editor", "submit")]


def post(base, model, messages, tools=MINI_TOOLS, timeout=10):
    req = urllib.request.Request(f"{base}/chat/completions", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"model": model, "messages": messages, "tools": tools}).encode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())


def conversation(n_assistant):
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "<pr_description>" + ROW["problem_statement"]}]
    for i in range(n_assistant):
        msgs += [{"role": "assistant", "content": f"step {i}"}, {"role": "tool", "content": "ok"}]
    return msgs


def call_of(body):
    call = body["choices"][0]["message"]["tool_calls"][0]["function"]
    return call["name"], call["arguments"]


@pytest.fixture
def server(tmp_path):
    settings = ProviderSettings(call_log=tmp_path / "calls.jsonl", rate_limit_failures=2, retry_after_seconds=3,
                                latency_seconds=0.3, hang_seconds=1.0, max_seconds=60)
    with ScriptedProvider(settings) as p:
        yield p


def test_binds_loopback_and_lists_models(server):
    assert server.base_url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(server.base_url + "/models", timeout=5) as resp:
        ids = [m["id"] for m in json.loads(resp.read())["data"]]
    assert "scripted/solver" in ids and "scripted/ratelimited" in ids


def test_solver_drives_mini_swe_agent_to_a_submission(server):
    status, _, body = post(server.base_url, "scripted/solver", conversation(0))
    assert status == 200 and body["system_fingerprint"] == FINGERPRINT
    name, args = call_of(body)
    command = json.loads(args)["command"]
    encoded = command.split("printf '%s' '", 1)[1].split("'", 1)[0]
    assert name == "bash" and "git apply" in command and base64.b64decode(encoded).decode() == ROW["patch"]
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0 and usage["cost"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    _, _, last = post(server.base_url, "scripted/solver", conversation(2))
    assert json.loads(call_of(last)[1])["command"].endswith(f"echo {MINI_SENTINEL} && cat patch.txt")


def test_solver_drives_swe_agent_through_its_own_tools_and_submits_twice(server):
    names = [call_of(post(server.base_url, "scripted/solver", conversation(i), SWEAGENT_TOOLS)[2])[0] for i in range(5)]
    assert names == ["bash", "str_replace_editor", "bash", "submit", "submit"]
    view = json.loads(call_of(post(server.base_url, "scripted/solver", conversation(1), SWEAGENT_TOOLS)[2])[1])
    assert view == {"command": "view", "path": "/testbed/tinycalc/stats.py"}
    apply = json.loads(call_of(post(server.base_url, "scripted/solver", conversation(2), SWEAGENT_TOOLS)[2])[1])
    assert "base64 -d" in apply["command"] and "git apply" in apply["command"]


def test_gold_patches_replay_byte_for_byte_through_a_shell(tmp_path):
    """A trailing blank context line, a missing final newline, quotes and a heredoc word survive."""
    import subprocess

    from sweboard.testbench.provider import _apply_command

    patch = ("--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a 'q' \"dq\" $HOME SWEBOARD_PATCH_EOF\n-b\n+c\n \n"
             "\\ No newline at end of file\n")
    cmd = _apply_command(patch).replace("cd /testbed && ", "").replace(" && git apply --whitespace=nowarn "
                                                                      "/tmp/sweboard-gold.patch", "")
    cmd = cmd.replace("/tmp/sweboard-gold.patch", str(tmp_path / "out.patch")).replace(" && rm -f " + str(tmp_path / "out.patch"), "")
    subprocess.run(["bash", "-c", cmd], check=True)
    assert (tmp_path / "out.patch").read_text() == patch


def test_empty_wrong_and_malformed(server):
    _, _, empty = post(server.base_url, "scripted/empty", conversation(0))
    assert json.loads(call_of(empty)[1])["command"] == f"echo {MINI_SENTINEL}"
    _, _, wrong = post(server.base_url, "scripted/wrong", conversation(0))
    assert "tinycalc/stats.py" in json.loads(call_of(wrong)[1])["command"]
    _, _, bad = post(server.base_url, "scripted/malformed", conversation(0))
    with pytest.raises(json.JSONDecodeError):
        json.loads(call_of(bad)[1])


def test_rate_limit_then_success_per_conversation(server):
    for _ in range(2):
        status, headers, body = post(server.base_url, "scripted/ratelimited", conversation(0))
        assert status == 429 and headers["Retry-After"] == "3" and body["error"]["type"] == "rate_limit_error"
    status, _, _ = post(server.base_url, "scripted/ratelimited", conversation(0))
    assert status == 200


def test_server_error_unknown_model_slow_and_hang(server):
    assert post(server.base_url, "scripted/server-error", conversation(0))[0] == 503
    status, _, body = post(server.base_url, "Qwen/does-not-exist", conversation(0))
    assert status == 404 and body["error"]["code"] == "model_not_found"
    t = time.monotonic()
    assert post(server.base_url, "scripted/slow", conversation(0))[0] == 200
    assert time.monotonic() - t >= 0.3
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        post(server.base_url, "scripted/hang", conversation(0), timeout=0.3)


def test_every_call_is_logged(server, tmp_path):
    post(server.base_url, "scripted/solver", conversation(0))
    post(server.base_url, "scripted/server-error", conversation(0))
    lines = [json.loads(x) for x in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert [(x["model"], x["status"], x["instance_id"]) for x in lines] == [
        ("scripted/solver", 200, ROW["instance_id"]), ("scripted/server-error", 503, ROW["instance_id"])]


def test_stops_by_itself():
    p = ScriptedProvider(ProviderSettings(max_seconds=0.5)).start()
    assert p.state.stopping.wait(5)
    with pytest.raises(OSError):  # refused or reset: nobody serves any more
        urllib.request.urlopen(p.base_url + "/models", timeout=1)


def test_the_provider_serves_rows_given_on_its_command_line(tmp_path):
    """Real SWE-bench rows (here a made-up one) from a JSONL file; a bad file is one line, exit 2."""
    import subprocess
    import sys

    row = {"instance_id": "owner__repo-1", "problem_statement": "Widget breaks on blank lines\nmore", "patch":
           "--- a/w.py\n+++ b/w.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n \n"}
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(row) + "\n")
    from sweboard.testbench.provider import ScriptedProvider, load_rows_file

    with ScriptedProvider(rows=load_rows_file(rows)) as p:
        _, _, body = post(p.base_url, "scripted/solver", [{"role": "user", "content": row["problem_statement"]}])
        command = json.loads(call_of(body)[1])["command"]
        assert base64.b64decode(command.split("printf '%s' '", 1)[1].split("'", 1)[0]).decode() == row["patch"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instance_id": "x", "patch": "p"}\n')
    proc = subprocess.run([sys.executable, "-m", "sweboard.testbench.provider", "--rows", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {bad}:1: field 'problem_statement': expected a non-empty string"
