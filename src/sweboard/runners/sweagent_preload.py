"""Imported once by the machine's warm fork host (`forkhost.py`) when SWE-agent 1.x is installed:
what every SWE-agent attempt needs (3 s of imports per attempt otherwise).

Key variables were dropped by `mini_preload`, imported first; each attempt's environment is set
whole in its fork.
"""

import litellm  # noqa: F401
from sweagent.agent.agents import DefaultAgent  # noqa: F401
from sweagent.environment.swe_env import SWEEnv  # noqa: F401
from sweagent.run.run import main  # noqa: F401
from sweagent.run.run_single import RunSingle, RunSingleConfig  # noqa: F401
from swerex.deployment.remote import RemoteDeployment  # noqa: F401
from swerex.runtime.remote import RemoteRuntime  # noqa: F401

import sweboard.runners.sweagent_launch  # noqa: F401
