"""Joining a Ray cluster only when it requires a token, and only with a token kept as a secret.

Why: a Ray cluster runs any code a client submits, as the user who started its nodes; one that
accepts clients without a token hands the controller's gateway proxy (the budget) and every
worker's root to anyone who can reach its port. So before `--cluster` joins:

- `RAY_AUTH_MODE=token` is set explicitly in this process (Ray's default changes with its version
  and with a token file lying in `~/.ray`);
- the token comes from a file (`RAY_AUTH_TOKEN_PATH`, the local cluster's own, or `~/.ray/auth_token`)
  that is ours and 0600; `RAY_AUTH_TOKEN` in the environment is refused (`/proc` shows it);
- the cluster is asked, by a fresh isolated process that presents no token, to answer a GCS
  request: a cluster that answers does not require a token and is refused, unless the operator
  set the loudly named opt-out `SWEBOARD_CLUSTER_WITHOUT_TOKEN=accept-the-risk`.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from sweboard.errors import SweboardError
from sweboard.isolation import empty_folder, python_argv

ADDRESS = re.compile(r"^[A-Za-z0-9][\w.\-]*:\d{1,5}$")
OPT_OUT = "SWEBOARD_CLUSTER_WITHOUT_TOKEN"
OPT_OUT_VALUE = "accept-the-risk"
README = "README: More than one machine"

# Run with RAY_AUTH_MODE=disabled and no token anywhere: exit 0 when the GCS answered (no token required),
# 3 when it refused for want of a token, 4 when it could not be reached at all.
_PROBE = r"""
import sys
from ray._raylet import GcsClient
try:
    GcsClient(address=sys.argv[1]).internal_kv_get(b"sweboard-auth-probe", None, timeout=10)
except Exception as exc:
    text = f"{type(exc).__name__} {exc}"
    sys.exit(3 if ("Authentication" in text or "Unauthenticated" in text or "InvalidAuthToken" in text) else 4)
sys.exit(0)
"""


def check_address(address: str) -> str:
    address = address.strip()
    if not ADDRESS.match(address):
        raise SweboardError(f"--cluster {address!r}: expected HOST:PORT, the head's GCS address (Ray client "
                            f"addresses ray://... and 'auto' are not accepted: neither can be checked for token auth; {README})")
    return address


def token_file(address: str) -> Path:
    """The token this process presents: the local cluster's own (tools/ray_local_cluster.sh) when the
    address is one of ours, else the file `RAY_AUTH_TOKEN_PATH` names, else `~/.ray/auth_token`; ours
    and 0600, or refused."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        raise SweboardError("RAY_AUTH_TOKEN is set: a token in the environment is readable in /proc; put it in a "
                            f"0600 file and set RAY_AUTH_TOKEN_PATH to it ({README})")
    named = os.environ.get("RAY_AUTH_TOKEN_PATH")
    path = _local_cluster_token(address) or (Path(named) if named else Path.home() / ".ray" / "auth_token")
    try:
        st = os.stat(path)
    except OSError:
        raise SweboardError(f"--cluster {address}: no token file at {path}; every cluster requires a token "
                            f"(RAY_AUTH_MODE=token; {README})") from None
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SweboardError(f"{path}: the cluster token file must be ours and readable by nobody else (chmod 600)")
    return path


def _local_cluster_token(address: str) -> Path | None:
    from sweboard.executors.local_cluster import list_states

    for state in list_states():
        if state.get("address") == address and state.get("token_path"):
            return Path(state["token_path"])
    return None


def require_token_auth(address: str) -> None:
    """Refuse a cluster that answers a client presenting no token (unless the operator opted out)."""
    if os.environ.get(OPT_OUT) == OPT_OUT_VALUE:
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    empty = str(empty_folder())
    env.update({"RAY_AUTH_MODE": "disabled", "HOME": empty, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        proc = subprocess.run(python_argv("-c", _PROBE, address), env=env, cwd=empty, capture_output=True,
                              timeout=60)
    except subprocess.TimeoutExpired:
        raise SweboardError(f"--cluster {address}: no answer from the head within 60 s") from None
    if proc.returncode == 3:
        return
    if proc.returncode == 0:
        raise SweboardError(f"--cluster {address}: that cluster accepts clients without a token (anyone who reaches "
                            f"it can run code as its user); start it with RAY_AUTH_MODE=token ({README}), or set "
                            f"{OPT_OUT}={OPT_OUT_VALUE} to use it anyway")
    raise SweboardError(f"--cluster {address}: the head cannot be reached (exit {proc.returncode}); is the address right?")


def prepare_environment(address: str) -> None:
    """Token mode and the token's file for this process (and the Ray workers it starts), before `import ray`
    reads its configuration."""
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ["RAY_AUTH_TOKEN_PATH"] = str(token_file(address))
    for key, value in (("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"), ("RAY_USAGE_STATS_ENABLED", "0")):
        os.environ.setdefault(key, value)
    import sys

    if "ray._raylet" in sys.modules:  # imported already (a test, a second executor): re-read the mode
        sys.modules["ray._raylet"].Config.initialize("")
