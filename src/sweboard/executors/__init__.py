"""Executors: where an attempt (and its grading) runs. `local` (threads of the batch, this machine's
Docker; the default) and `ray` (a task on a worker node of a Ray cluster; `pip install -e '.[ray]'`).

Both call the same plain unit, `sweboard.attempt.run_attempt`; the batch only schedules.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from sweboard.executors.base import Executor
from sweboard.executors.local import LocalExecutor

CLUSTER_ENV = "SWEBOARD_CLUSTER"  # set by --cluster; inherited by the batches a scheduler starts


def current() -> Executor:
    """The executor this process was asked for: `--cluster ADDRESS` (via SWEBOARD_CLUSTER) or local."""
    address = os.environ.get(CLUSTER_ENV, "").strip()
    if not address:
        return LocalExecutor()
    from sweboard.executors.ray_cluster import RayExecutor

    return RayExecutor(address)


@contextmanager
def opened():
    """`with executors.opened() as executor:` the executor this process was asked for, closed after."""
    executor = current()
    try:
        yield executor
    finally:
        executor.close()


def use_cluster(address: str | None) -> None:
    """`--cluster`: this process and every batch it starts run their attempts there."""
    if address:
        from sweboard.executors.ray_auth import check_address

        os.environ[CLUSTER_ENV] = check_address(address)


__all__ = ["CLUSTER_ENV", "Executor", "LocalExecutor", "current", "opened", "use_cluster"]
