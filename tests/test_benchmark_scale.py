"""The scale benchmark runs end to end at a small size: every attempt went through its batch's
gateway to the scripted provider, and the run folded; its instant runner is no user's choice."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sweboard.errors import SweboardError
from sweboard.runners import get_runner

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_scale_benchmark_small_sizes_every_attempt_calls_through_the_gateway(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "benchmark_scale.py"), "--attempts", "30",
                           "--attempts", "60"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sizes = re.findall(r"^\s*(\d+) attempts \(\d+ tasks x 10 models x K=3, (\d+) attempts with gateway calls\)",
                       proc.stdout, re.M)
    assert sizes == [("30", "30"), ("60", "60")], proc.stdout
    assert re.search(r"fold \d+\.\d s", proc.stdout)
    assert float(re.search(r"^scale_ratio=(\d+\.\d+)$", proc.stdout, re.M).group(1)) > 0


def test_the_instant_runner_is_not_a_runner_name():
    with pytest.raises(SweboardError, match="expected 'mini' or 'sweagent'"):
        get_runner("instant")
