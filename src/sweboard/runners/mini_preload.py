"""Imported once by the warm fork server (`warm.py`): what every mini-swe-agent attempt needs.

Key variables are dropped first, so nothing imported here can have read one; each attempt's
environment is set whole in its fork (which also gets the default SIGINT back).
"""

import os
import signal
import threading
import time

# A Ctrl-C at the terminal reaches this server too while it imports (it ignores SIGINT only after its
# preload): its batch is the one that stops, kills the attempts and takes this server down with it.
signal.signal(signal.SIGINT, signal.SIG_IGN)



def _follow_the_batch(parent: int) -> None:
    """Exit as soon as the batch that started this server is gone (kill -9 included): its attempts,
    forked from here with PR_SET_PDEATHSIG, then die with it instead of writing into orphaned folders."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


threading.Thread(target=_follow_the_batch, args=(os.getppid(),), name="sweboard-follow-batch", daemon=True).start()

from sweboard.credentials import KEY_SUFFIXES  # noqa: E402

for _name in [k for k in os.environ if k.endswith(KEY_SUFFIXES)]:
    del os.environ[_name]

import litellm  # noqa: E402,F401
import yaml  # noqa: E402,F401
from minisweagent.agents.default import DefaultAgent  # noqa: E402,F401
from minisweagent.config import builtin_config_dir  # noqa: E402,F401
from minisweagent.environments.docker import DockerEnvironment  # noqa: E402,F401
from minisweagent.models.litellm_model import LitellmModel  # noqa: E402,F401

import sweboard.runners.mini_attempt  # noqa: E402,F401
