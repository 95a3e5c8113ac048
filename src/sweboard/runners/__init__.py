"""Runners: each runs one attempt under a hard wall-clock limit and leaves a patch and a trajectory."""

from sweboard.runners.base import Attempt, AttemptResult, Runner


def get_runner(name: str) -> Runner:
    from sweboard.errors import SweboardError

    if name == "mini":
        from sweboard.runners.mini import MiniRunner

        return MiniRunner()
    if name == "sweagent":
        from sweboard.runners.sweagent import SweAgentRunner

        return SweAgentRunner()
    from sweboard.runners.patch import NAMES, PatchRunner

    if name in NAMES:  # the canary's stand-ins (gold patch, empty patch): never a user's choice
        return PatchRunner(NAMES[name])
    raise SweboardError(f"runner: expected 'mini' or 'sweagent', got {name!r}")


__all__ = ["Attempt", "AttemptResult", "Runner", "get_runner"]
