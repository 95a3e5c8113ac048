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
