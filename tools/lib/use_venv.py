"""Run a tools/*.py command under the project's .venv, whichever Python started it.

The README writes commands as `tools/update_dataset_lock.py …`; their shebang finds the
system Python, which does not have sweboard. Importing this module re-executes the same
command under `.venv/bin/python` (made by tools/setup_venv.sh), or says in one line what to do.
"""

import os
import sys
from pathlib import Path

VENV = Path(__file__).resolve().parents[2] / ".venv"


def ensure() -> None:
    try:
        import sweboard  # noqa: F401
        return
    except ModuleNotFoundError:
        pass
    python = VENV / "bin" / "python"
    if python.exists() and Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(python), [str(python), *sys.orig_argv[1:]])  # sys.argv[0] is this file under runpy
    print("error: sweboard is not installed for this Python; run tools/setup_venv.sh (it creates .venv), then retry",
          file=sys.stderr)
    raise SystemExit(2)


ensure()
