"""The official evaluator, `python -m swebench.harness.run_evaluation ARGS`, in a fork of the
machine's warm host (`runners/forkhost.py`).

Why: the harness's imports cost about 1 s of CPU per invocation (2-3 s while agents share two
cores), and in-batch grading invokes it for every attempt a task needs graded: that start-up was
most of a grading's seconds (the tests take 0.02-0.03 s). The fork host imported it once; here its
module runs exactly as `python -m` runs it — `runpy`, as `__main__`, with the same argv, in the
same working folder — unmodified. `SWEBOARD_WARM_START=0` runs the command line instead.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path

MODULE = "swebench.harness.run_evaluation"


def main(spec_path: str) -> int:
    """spec: {"args": the harness's arguments (after `-m MODULE`), "cwd": its working folder}."""
    spec = json.loads(Path(spec_path).read_text())
    os.chdir(spec["cwd"])
    sys.argv = [MODULE, *spec["args"]]  # runpy puts the module's file first, as `python -m` does
    # Its dependencies stay imported (the point); the module itself runs afresh as `__main__`, as under
    # `python -m` (the host imported it as a module: runpy would warn and could differ).
    sys.modules.pop(MODULE, None)
    try:
        runpy.run_module(MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0
