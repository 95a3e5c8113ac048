"""The agent's own commands, read from its trajectory, checked for look-ups of the answer.

Why: an image may keep the fix in its git history (`history.py` audits that), the project's next
release may be installable, and an agent may try the network. A resolved attempt that looked such
things up is not silently counted as earned: the record lists each command that matched
(`history_flags`), the board counts flagged attempts and flagged resolved attempts per row, and the
page shows them per task. pass@1 itself is unchanged: a look-up is evidence to read, not a verdict.

What counts (PATTERNS, each with what it catches):
- `git-history`: `git log` / `rev-list` / `shortlog` / `whatchanged` over other refs (`--all`,
  `--branches`, `--tags`, `--remotes`, `--reflog`, `-g`) or of a named commit or ref;
- `git-objects`: `git reflog`, `fsck`, `cat-file`, `for-each-ref`, `show-ref`, `rev-parse --all`,
  `stash list|show`, `branch -a|-r|--all`, `tag` listings, `describe --tags|--all`;
- `git-other-ref`: `git show`, `diff`, `checkout`, `switch`, `restore --source`, `cherry-pick`, `merge`
  of a commit id, a tag, a remote or a ref other than HEAD;
- `project-package`: `pip download`, or `pip install` of the project's own package (a newer release);
- `installed-copy`: reading the project's package under `site-packages` / `dist-packages`;
- `network`: `curl`, `wget`, `git clone|fetch|pull|ls-remote`, `nc`, `ssh`, `scp`, `pip install` of
  anything but the checkout itself, Python's `urllib`/`requests`/`http.client`/`socket` in a one-liner.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

MAX_COMMANDS = 5000
MAX_FLAGS = 50
PATTERNS = ("git-history", "git-objects", "git-other-ref", "project-package", "installed-copy", "network")
_SPLIT = re.compile(r"\|\||&&|[;|\n&]")
_HEX = re.compile(r"^[0-9a-f]{7,40}(\^.*|~.*)?$")
_HEAD = re.compile(r"^(HEAD|@)([\^~]\d*)*(:.*)?$")
_REFISH = re.compile(r"(^|[:/])(origin|upstream|refs|tags|remotes)/|@\{|^v?\d+\.\d+(\.\d+)?$|\.\.")
OTHER_REFS = ("--all", "--branches", "--tags", "--remotes", "--reflog", "-g", "--walk-reflogs", "--glob")
NETWORK_TOOLS = ("curl", "wget", "nc", "ncat", "netcat", "telnet", "ssh", "scp", "sftp", "rsync", "ftp")


def commands_of(trajectory: Path) -> list[str]:
    """The shell commands an agent ran, from mini-swe-agent's `trajectory.json` (each message's
    `extra.actions`, or its bash tool calls) or SWE-agent's `.traj` (each step's `action`)."""
    try:
        data = json.loads(trajectory.read_text(errors="replace"))
    except (OSError, ValueError, RecursionError):
        return []
    out: list[str] = []
    if isinstance(data, dict) and isinstance(data.get("trajectory"), list):  # SWE-agent
        out += [s["action"] for s in data["trajectory"] if isinstance(s, dict) and isinstance(s.get("action"), str)]
    for message in (data.get("messages") if isinstance(data, dict) else None) or []:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        actions = (message.get("extra") or {}).get("actions") if isinstance(message.get("extra"), dict) else None
        if isinstance(actions, list) and actions:
            out += [a["command"] for a in actions if isinstance(a, dict) and isinstance(a.get("command"), str)]
            continue
        for call in message.get("tool_calls") or []:
            try:
                args = json.loads(call["function"]["arguments"])
            except (KeyError, TypeError, ValueError):
                continue
            if isinstance(args, dict) and isinstance(args.get("command"), str):
                out.append(args["command"])
    return out[:MAX_COMMANDS]


def _words(part: str) -> list[str]:
    try:
        words = shlex.split(part, comments=False, posix=True)
    except ValueError:
        words = part.split()
    while words and ("=" in words[0] and not words[0].startswith("-") or words[0] in ("sudo", "env", "command",
                                                                                        "exec", "time", "nohup")):
        words = words[1:]
    return words


def _git(words: list[str]) -> tuple[str, list[str]]:
    """(subcommand, its arguments) of a git command line, skipping git's own options."""
    rest = words[1:]
    while rest and rest[0].startswith("-"):
        rest = rest[2:] if rest[0] in ("-C", "-c", "--git-dir", "--work-tree") else rest[1:]
    return (rest[0], rest[1:]) if rest else ("", [])


def _names_other_ref(args: list[str]) -> bool:
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("-"):
            if arg in OTHER_REFS or arg.startswith("--source=") or arg.startswith("--glob="):
                return True
            continue
        if _HEAD.match(arg):
            continue
        rev = arg.split(":", 1)[0]  # `git show v0.1.1:pricetag/format.py`: the revision before the path
        if _HEX.match(rev) or _REFISH.search(rev):
            return True
    return False


def _git_flag(sub: str, args: list[str]) -> str | None:
    if sub in ("log", "rev-list", "shortlog", "whatchanged") and _names_other_ref(args):
        return "git-history"
    if sub in ("reflog", "fsck", "cat-file", "for-each-ref", "show-ref", "count-objects", "verify-pack"):
        return "git-objects"
    if (sub == "rev-parse" and any(a in OTHER_REFS for a in args)) or (sub == "stash" and args[:1] in (["list"], ["show"])) \
            or (sub == "branch" and any(a in ("-a", "-r", "--all", "--remotes") for a in args)) \
            or (sub == "tag" and (not args or args[0] in ("-l", "--list", "-n"))) \
            or (sub == "describe" and any(a in ("--tags", "--all", "--contains") for a in args)):
        return "git-objects"
    if sub in ("show", "diff", "checkout", "switch", "restore", "cherry-pick", "merge", "rebase", "reset", "difftool") \
            and _names_other_ref(args):
        return "git-other-ref"
    if sub in ("clone", "fetch", "pull", "ls-remote", "remote") and not (sub == "remote" and not args):
        return "network"
    return None


def _pip_flag(words: list[str], project: str | None) -> str | None:
    i = next((n for n, w in enumerate(words) if w in ("download", "install")), None)
    if i is None:
        return None
    packages = [w for w in words[i + 1:] if not w.startswith("-")]
    if words[i] == "download":
        return "project-package"
    name = lambda w: re.split(r"[<>=!~\[ ]", w, 1)[0].lower().replace("_", "-")  # noqa: E731
    if project and any(name(p) == project.lower().replace("_", "-") for p in packages):
        return "project-package"
    if packages and not all(p in (".", "./") or p.startswith(("/testbed", "./", "-e")) for p in packages):
        return "network"
    return None


def flags_of(command: str, project: str | None = None) -> list[str]:
    """The pattern names one shell command matches (PATTERNS)."""
    found = []
    if project and re.search(rf"(site|dist)-packages/{re.escape(project)}\b", command):
        found.append("installed-copy")
    if re.search(r"python[\d.]*\s+(-\w+\s+)*-c\b.*\b(urllib|requests|http\.client|socket\.(create_)?connect)", command,
                 re.S):
        found.append("network")
    for part in _SPLIT.split(command):
        words = _words(part.strip())
        if not words:
            continue
        tool = Path(words[0]).name
        if tool == "git":
            flag = _git_flag(*_git(words))
        elif tool in ("pip", "pip3") or (tool.startswith("python") and words[1:3] == ["-m", "pip"]):
            flag = _pip_flag(words, project)
        else:
            flag = "network" if tool in NETWORK_TOOLS else None
        if flag and flag not in found:
            found.append(flag)
    return found


def scan(attempt_dir: Path, trajectory: str | None, project: str | None) -> list[dict]:
    """`history_flags` of an attempt: each command that matched, with the patterns it matched (bounded)."""
    from sweboard.untrusted import confined_file

    path = confined_file(attempt_dir, trajectory) if trajectory else None
    if path is None:
        return []
    out, seen = [], set()
    for command in commands_of(path):
        for flag in flags_of(command, project):
            key = (flag, command)
            if key in seen:
                continue
            seen.add(key)
            out.append({"pattern": flag, "command": " ".join(command.split())[:300]})
            if len(out) >= MAX_FLAGS:
                return out
    return out


def project_of(repo: str) -> str:
    """The project's package name as pip knows it, from SWE-bench's `owner/name` (`sqlfluff/sqlfluff` -> sqlfluff)."""
    return repo.rsplit("/", 1)[-1]
