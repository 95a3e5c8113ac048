"""Imported once by the machine's warm fork host (`forkhost.py`): what every mini-swe-agent attempt needs.

Key variables are dropped first, so nothing imported here can have read one; each attempt's
environment is set whole in its fork (which also gets the default SIGINT back).
"""

import os

from sweboard.credentials import KEY_SUFFIXES

for _name in [k for k in os.environ if k.endswith(KEY_SUFFIXES)]:
    del os.environ[_name]

import litellm  # noqa: E402,F401
import yaml  # noqa: E402,F401
from minisweagent.agents.default import DefaultAgent  # noqa: E402,F401
from minisweagent.config import builtin_config_dir  # noqa: E402,F401
from minisweagent.environments.docker import DockerEnvironment  # noqa: E402,F401
from minisweagent.models.litellm_model import LitellmModel  # noqa: E402,F401

import sweboard.runners.mini_attempt  # noqa: E402,F401
