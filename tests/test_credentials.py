import subprocess
from pathlib import Path

import pytest

from sweboard.credentials import get_key, parse_credentials, redact, secret_values
from sweboard.errors import SweboardError

ROOT = Path(__file__).resolve().parents[1]


def test_parses_keys_comments_blank_lines_quotes_and_export(tmp_path):
    f = tmp_path / "credentials.txt"
    f.write_text("# my keys\n\nCHUTES_API_KEY=cpk_abc123\nexport OPENROUTER_API_KEY = \"sk-or-xyz789\"\n")
    assert parse_credentials(f) == {"CHUTES_API_KEY": "cpk_abc123", "OPENROUTER_API_KEY": "sk-or-xyz789"}


def test_malformed_line_names_its_number_never_its_value(tmp_path):
    f = tmp_path / "credentials.txt"
    f.write_text("CHUTES_API_KEY=ok-value\nthis-is-my-secret-token-value\n")
    with pytest.raises(SweboardError) as err:
        parse_credentials(f)
    assert "line 2" in str(err.value)
    assert "this-is-my-secret" not in str(err.value)


def test_environment_wins_over_file(home, monkeypatch):
    (home / "secrets" / "credentials.txt").write_text("CHUTES_API_KEY=from-file-1234\n")
    assert get_key("CHUTES_API_KEY") == "from-file-1234"
    monkeypatch.setenv("CHUTES_API_KEY", "from-env-5678")
    assert get_key("CHUTES_API_KEY") == "from-env-5678"
    assert get_key("OPENROUTER_API_KEY") is None


def test_redact_replaces_every_secret(home):
    (home / "secrets" / "credentials.txt").write_text("CHUTES_API_KEY=cpk_secret_1\nOPENROUTER_API_KEY=sk-or-secret-2\n")
    text = "auth cpk_secret_1 and sk-or-secret-2 and cpk_secret_1"
    assert redact(text, secret_values()) == "auth *** and *** and ***"


def _source_env(cred: Path) -> subprocess.CompletedProcess:
    script = f'SWEBOARD_CREDENTIALS="{cred}" source "{ROOT}/tools/env.sh" && echo "K=$CHUTES_API_KEY"'
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True)


def test_env_sh_exports_keys_without_printing_them(tmp_path):
    cred = tmp_path / "c.txt"
    cred.write_text("# comment\n\nCHUTES_API_KEY='cpk quoted value'\n")
    proc = _source_env(cred)
    assert proc.returncode == 0
    assert proc.stdout.strip() == "K=cpk quoted value"
    assert "cpk quoted value" not in proc.stderr


def test_env_sh_rejects_malformed_line_by_number(tmp_path):
    cred = tmp_path / "c.txt"
    cred.write_text("CHUTES_API_KEY=abc\nnot a key line secretish\n")
    proc = _source_env(cred)
    assert proc.returncode != 0
    assert "line 2" in proc.stderr and "secretish" not in proc.stderr


def test_a_byte_order_mark_and_inline_comments_are_read_as_a_shell_would(tmp_path):
    f = tmp_path / "credentials.txt"
    f.write_bytes("\ufeffCHUTES_API_KEY=\"cpk-v1\" # my chutes key\nOPENROUTER_API_KEY=sk-or-v2 # note\nX_TOKEN=a#b\n".encode())
    assert parse_credentials(f) == {"CHUTES_API_KEY": "cpk-v1", "OPENROUTER_API_KEY": "sk-or-v2", "X_TOKEN": "a#b"}
    script = f'SWEBOARD_CREDENTIALS="{f}"; source "{ROOT}/tools/env.sh"; printf "%s|%s|%s" "$CHUTES_API_KEY" "$OPENROUTER_API_KEY" "$X_TOKEN"'
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert proc.stdout == "cpk-v1|sk-or-v2|a#b", proc.stderr


def test_an_unclosed_quote_is_an_error_by_line_number(tmp_path):
    f = tmp_path / "credentials.txt"
    f.write_text('CHUTES_API_KEY="cpk-secret-unclosed\n')
    with pytest.raises(SweboardError, match="line 1") as err:
        parse_credentials(f)
    assert "cpk-secret" not in str(err.value)


def test_a_bad_credentials_file_stops_before_any_run_is_created(home):
    import sys

    (home / "secrets" / "credentials.txt").write_text("CHUTES_API_KEY=ok\nnot a key line\n")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "creds",
                           "--model", "instant_empty_submit", "--offline"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "line 2 is not KEY=value" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (home / "runs" / "creds").exists()
