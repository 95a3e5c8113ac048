"""One SWE-agent attempt: `main(SPEC)`, forked from the machine's warm host or run as
`python -m sweboard.runners.sweagent_launch SPEC` (`SWEBOARD_WARM_START=0`).

The spec (`agent_spec.json`, written by the runner, nothing secret in it) holds SWE-agent's own
command line and the catalog's prices. The launcher registers the prices (a litellm model
registry) before handing the command line to SWE-agent's CLI: SWE-agent 1.1.0 has no option for
a price registry, and litellm would otherwise not know the model. It also mends one call of
SWE-agent 1.1.0 into swe-rex's remote deployment (below); nothing else of SWE-agent is changed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from sweboard.runners.rexbridge import TOKEN_VAR


def _patch_remote_is_alive() -> None:
    """SWE-agent 1.1.0's autosubmission after an error calls `deployment.is_alive(timeout=...)`, which
    swe-rex's RemoteDeployment (1.4.0) does not accept: the run then crashes with a TypeError and
    leaves no trajectory. Pass the timeout on to the runtime, which takes it."""
    from swerex.deployment.remote import RemoteDeployment

    async def is_alive(self, *, timeout: float | None = None):
        return await self.runtime.is_alive(timeout=timeout)

    RemoteDeployment.is_alive = is_alive


def main(spec_path: str) -> int:
    # Everything SWE-agent writes (its config.yaml names the relay's secret) is for this user only.
    os.umask(0o077)
    spec = json.loads(Path(spec_path).read_text())
    # SWE-agent looks for a `.env` in its working folder: the attempt's own, never the caller's.
    os.chdir(Path(spec_path).parent)
    # The relay's secret comes through the environment (readable by this user only), never argv
    # (`ps` shows argv to everyone); it is added to SWE-agent's arguments inside this process.
    token = os.environ.pop(TOKEN_VAR, "")
    import litellm

    litellm.register_model(spec["registry"])
    _patch_remote_is_alive()
    from sweagent.run.run import main as sweagent_main

    args = spec["args"]
    sweagent_main([*args, f"--env.deployment.auth_token={token}"] if token else args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
