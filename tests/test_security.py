"""A task container's root is the model; another local user is a stranger. Neither reaches the host.

The escape test runs a live SWE-agent attempt whose (scripted, hostile) model plants a Docker-socket
symlink and a setuid shell wherever it can write in its container, then holds its next call open.
While it is live, as uid 65534, every 127.0.0.1 port the batch's process tree listens on is probed
with and without the relay's secret: only swe-rex answers, only with the secret, and nothing reaches
the Docker API. Nothing is bind-mounted, no planted file exists on the host's side, and no argv of
the tree holds the secret or a key.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-or-v1-escapetest-0123456789abcdef0123456789abcdef"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

PROBE = r"""
import json, socket, sys
port, token = int(sys.argv[1]), sys.argv[2]
def ask(path, key):
    s = socket.socket(); s.settimeout(4)
    try:
        s.connect(("127.0.0.1", port))
        head = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + (f"X-API-Key: {key}\r\n" if key else "") + "\r\n"
        s.sendall(head.encode()); data = b""
        while len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk: break
            data += chunk
        return data.decode("latin-1")
    except OSError as exc:
        return f"<{type(exc).__name__}>"
    finally:
        s.close()
print(json.dumps({p + ("+token" if k else ""): ask(p, k) for p in ("/version", "/is_alive", "/_ping") for k in ("", token)}))
"""


def tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports in LISTEN state on 127.0.0.1 whose socket a process of `pids` holds."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        local, state, inode = parts[1], parts[3], parts[9]
        if state == "0A" and inode in inodes:
            address, port = local.split(":")
            assert address == "0100007F", f"a listener of the batch is not on 127.0.0.1: {line}"
            ports.add(int(port, 16))
    return ports


def argv_of(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            out.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    return "\n".join(out)


def token_of(pids: list[int]) -> str | None:
    for pid in pids:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(b"SWEBOARD_REX_TOKEN="):
                return item.split(b"=", 1)[1].decode()
    return None


def config_token(attempt_dir: Path) -> str | None:
    """The relay's secret as SWE-agent saved it in its run's config.yaml (0600: this user's only)."""
    for path in attempt_dir.rglob("config.yaml"):
        found = re.search(r"auth_token[\"']?\s*[:=]\s*[\"']?([0-9a-f]{32})", path.read_text(errors="replace"))
        if found:
            return found.group(1)
    return None


@pytest.mark.docker
def test_a_hostile_sweagent_container_and_another_user_reach_nothing(home, provider, offline_images, sweagent):
    (home / "secrets" / "credentials.txt").write_text(f"OPENROUTER_API_KEY={KEY}\n")
    one = home / "config" / "one_task.yaml"
    one.write_text(yaml.safe_dump({"offline": {"dataset_lock": "config/dataset.offline.lock", "split": "dev",
                                               "instances": ["sweboard-fixtures__tinycalc-1"]}}))
    cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "escape", "--model",
           "scripted/escape", "--offline", "--runner", "sweagent", "--instances", str(one),
           "--set", "attempt_timeout_seconds=90"]
    env = {**os.environ, "OPENROUTER_API_KEY": KEY}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    log = Path(provider.settings.call_log)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # the second call is the one held open: the planting step ran
            calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
            if sum(1 for c in calls if c["model"] == "scripted/escape") >= 2:
                break
            assert proc.poll() is None, "the batch ended before its hostile step ran"
            time.sleep(0.3)
        else:
            raise AssertionError("the hostile model's second call never came")
        time.sleep(1.0)  # the held call reached the provider; the relay and the gateway are live
        attempt_dir = next((home / "runs" / "escape" / "attempts").rglob("attempt-1"))
        # the agent: a fork of the machine's warm host (its pid beside the log), or a child of the batch (cold)
        fork = attempt_dir / ".agent-pid"
        pids = tree(proc.pid) + (tree(int(fork.read_text())) if fork.is_file() else [])
        token = token_of(pids) or config_token(attempt_dir)
        assert token and re.fullmatch(r"[0-9a-f]{32}", token), "the relay's secret was not found in the launcher"
        ports = listening_ports(pids)
        assert len(ports) >= 2, f"expected the gateway and the relay to listen, found {ports}"
        answers = {}
        for port in sorted(ports):
            out = subprocess.run([*NOBODY, sys.executable, "-c", PROBE, str(port), token], capture_output=True,
                                 text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            answers[port] = json.loads(out.stdout)
        for port, a in answers.items():
            for probe, reply in a.items():
                assert "ApiVersion" not in reply and "Docker" not in reply and "OSType" not in reply, \
                    f"port {port} {probe} reached the Docker API: {reply[:300]}"
                if not probe.endswith("+token"):
                    assert '"is_alive":true' not in reply.replace(" ", ""), f"port {port} answered without the token"
        alive = [p for p, a in answers.items() if '"is_alive":true' in a["/is_alive+token"].replace(" ", "")]
        assert len(alive) == 1, f"exactly the relay answers swe-rex with the token: {answers}"
        relay = alive[0]
        assert answers[relay]["/is_alive"].startswith("HTTP/1.1 401"), answers[relay]["/is_alive"]

        label = subprocess.run(["docker", "ps", "-q", "--filter", "label=sweboard.batch=escape.scripted__escape"],
                               capture_output=True, text=True).stdout.split()
        assert len(label) == 1, "the attempt's container is not labelled with its batch"
        mounts = subprocess.run(["docker", "inspect", "--format", "{{json .Mounts}}", label[0]], capture_output=True,
                                text=True).stdout.strip()
        assert mounts == "[]", f"the task container has a mount the host could follow: {mounts}"
        planted = subprocess.run(["docker", "exec", label[0], "ls", "-l", "/sock/sbash", "/tmp/rex.sock"],
                                 capture_output=True, text=True).stdout
        assert "rws" in planted and "docker.sock" in planted, "the hostile step did not plant what it should"
        host_side = [str(p) for base in (Path("/tmp"), home) for p in base.rglob("sbash")]
        assert host_side == [], f"a planted file reached the host: {host_side}"
        args = argv_of(pids)
        assert token not in args and KEY not in args, "a secret is on an argv (ps shows it to every user)"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=120)
    attempt = next((home / "runs" / "escape" / "attempts").rglob("attempt-1*"))
    text = "\n".join(p.read_text(errors="replace") for p in attempt.rglob("*") if p.is_file())
    assert token not in text and KEY not in text, "a secret stayed in the attempt folder"
    configs = list(attempt.rglob("config.yaml"))
    assert all(c.stat().st_mode & 0o077 == 0 for c in configs), "SWE-agent's config is readable by others"
    left = subprocess.run(["docker", "ps", "-aq", "--filter", "label=sweboard.batch=escape.scripted__escape"],
                          capture_output=True, text=True).stdout.split()
    assert left == [], "the attempt's container outlived its batch"


def test_the_relay_admits_only_the_exact_secret_in_the_first_header_block():
    from sweboard.runners.rexbridge import authorized

    token = "ab" * 16
    ok = f"GET /is_alive HTTP/1.1\r\nHost: x\r\nX-API-Key: {token}\r\n\r\n".encode()
    assert authorized(ok, token)
    assert authorized(ok.replace(b"X-API-Key", b"x-api-key"), token)
    assert not authorized(ok.replace(token.encode(), token[:-1].encode()), token)
    assert not authorized(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", token)
    assert not authorized(f"GET /?X-API-Key: {token} HTTP/1.1\r\n\r\n".encode(), token), "the request line is not a header"


WARM = r"""
import os, sys
os.environ["CHUTES_API_KEY"] = sys.argv[1]
os.environ["MY_PROVIDER_CREDENTIAL"] = sys.argv[1]  # a key under any name: the credentials file says it is one
os.environ["SWEBOARD_FORKHOST_IDLE"] = "5"
from sweboard.runners import warm
folder, token = warm.context()
pid = warm._request(folder, token, {"ping": True})["pid"]
environ = open(f"/proc/{pid}/environ", "rb").read()
print(sys.argv[1].encode() in environ, os.environ["CHUTES_API_KEY"] == sys.argv[1], oct(os.stat(folder).st_mode & 0o777),
      oct(os.stat(folder / "token").st_mode & 0o777), sys.argv[1] in " ".join(open(f"/proc/{pid}/cmdline").read().split()))
"""


def test_the_warm_fork_host_never_holds_a_key_and_keeps_its_door_private(home, tmp_path):
    """Its forks start from its environment block (/proc/PID/environ of a fork is the host's), so the host
    must never have seen a key; its socket folder and token are ours alone. A fresh cache: a host of its own."""
    key = "cpk_warm-PLANTED-7f3a91c0"
    (home / "secrets" / "credentials.txt").write_text(f"MY_PROVIDER_CREDENTIAL={key}\n")
    out = subprocess.run([sys.executable, "-c", WARM, key], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "SWEBOARD_HOME": str(home), "SWEBOARD_CACHE": str(tmp_path / "c")})
    assert out.returncode == 0, out.stderr
    leaked, kept, folder_mode, token_mode, on_argv = out.stdout.split()
    assert leaked == "False", "/proc/PID/environ of the fork host holds the key"
    assert kept == "True", "the batch's own environment must be left as it was"
    assert (folder_mode, token_mode, on_argv) == ("0o700", "0o600", "False")


def test_the_fork_host_refuses_a_caller_without_its_token(home, tmp_path, monkeypatch):
    from sweboard.errors import SweboardError
    from sweboard.runners import warm

    monkeypatch.setenv("SWEBOARD_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("SWEBOARD_FORKHOST_IDLE", "5")
    monkeypatch.setattr(warm, "_host", None)
    folder, token = warm.context()
    with pytest.raises(SweboardError, match="bad token"):
        warm._request(folder, "0" * 32, {"ping": True})
    assert warm._request(folder, token, {"ping": True})["pid"] > 0


def test_lock_and_slot_files_are_private_and_a_long_wait_names_its_holder(tmp_path, monkeypatch):
    import threading

    from sweboard import locks
    from sweboard.slots import SlotPool

    lock = tmp_path / "runs" / "ledger.lock"
    lock.parent.mkdir()
    lock.write_text("")
    lock.chmod(0o644)  # made by an older version
    with locks.file_lock(lock):
        assert lock.stat().st_mode & 0o777 == 0o600
        probe = subprocess.run([*NOBODY, sys.executable, "-c", f"open({str(lock)!r})"], capture_output=True, text=True)
        assert probe.returncode != 0 and "PermissionError" in probe.stderr, "another user can open the lock to hold it"
    pool = SlotPool(tmp_path / "pool", 2)
    with pool.hold():
        assert (tmp_path / "pool").stat().st_mode & 0o777 == 0o700
        assert all(p.stat().st_mode & 0o777 == 0o600 for p in (tmp_path / "pool").iterdir())

    monkeypatch.setattr(locks, "NOTICE_SECONDS", 0.3)
    said = []
    holder = subprocess.Popen([sys.executable, "-c", f"from sweboard.locks import file_lock; import time\n"
                               f"with file_lock(__import__('pathlib').Path({str(lock)!r})):\n"
                               "    print('held', flush=True); time.sleep(1.5)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    t = threading.Thread(target=lambda: locks.file_lock(lock, say=said.append).__enter__())
    t.start()
    t.join(10)
    holder.wait(10)
    assert said == [f"waiting for {lock} (held by PID {holder.pid})"], said


def test_a_damaged_record_is_named_set_aside_and_run_again_without_a_traceback(home):
    cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "dmg", "--model",
           "instant_empty_submit", "--offline"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    records = sorted((home / "runs" / "dmg" / "attempts").glob("*/*/attempt-1/record.json"))
    assert len(records) >= 2
    records[0].write_text("{}")
    records[1].write_text(records[1].read_text()[:40])
    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "Traceback" not in again.stdout + again.stderr, again.stdout + again.stderr
    for record, why in ((records[0], "missing status"), (records[1], "not readable JSON")):
        assert f"{record}: damaged ({why}" in again.stdout, again.stdout
        aside = record.parent.with_name("attempt-1.damaged-1")
        assert (aside / "record.json").is_file() and json.loads(record.read_text())["status"] == "empty"
    m = json.loads((home / "runs" / "dmg" / "manifest.json").read_text())
    assert m["batches"]["instant_empty_submit"]["status"] == "ok"


@pytest.mark.docker
def test_a_batch_stopped_by_a_damaged_ledger_exits_3_and_resumes(home, provider, offline_images):
    """Exit statuses: 0 finished, 2 refused before anything ran, 3 stopped and resumable, 1 anything else."""
    ledger = home / "runs" / "ledger.json"
    ledger.write_bytes(b'{"scripted": {"calls_by_day": {}, "dollars": NaN}}')
    cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "led", "--model",
           "scripted/solver", "--offline"]
    stopped = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr
    assert "stopped:" in stopped.stdout and "damaged" in stopped.stdout and "Traceback" not in stopped.stderr
    bad = subprocess.run([*cmd[:-1], "--model", "no/such-model", "--offline"], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")
    ledger.unlink()
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    m = json.loads((home / "runs" / "led" / "manifest.json").read_text())
    assert m["batches"]["scripted/solver"]["status"] == "ok"


def test_a_full_disk_is_one_line_and_keeps_what_was_written(home):
    """ENOSPC mid-run: one `error:` line (no chain of tracebacks), exit 1, earlier records intact."""
    if os.geteuid() != 0 or subprocess.run(["which", "mount"], capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    runs = home / "runs"
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(runs)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        cmd = [sys.executable, str(ROOT / "tools" / "run_model_batch.py"), "--run-id", "full", "--offline"]
        first = subprocess.run([*cmd, "--model", "instant_empty_submit"], capture_output=True, text=True, timeout=300)
        assert first.returncode == 0, first.stderr
        manifest = (runs / "full" / "manifest.json").read_bytes()
        import shutil

        redo = sorted((runs / "full" / "attempts").glob("*/*/attempt-1"))[0]
        shutil.rmtree(redo)  # an attempt to run again, onto a full disk
        with open(runs / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        full = subprocess.run([*cmd, "--model", "instant_empty_submit", "--resume"], capture_output=True, text=True,
                              timeout=300)
        assert full.returncode == 1, full.stdout + full.stderr
        assert "Traceback" not in full.stderr and "No space left on device" in full.stderr, full.stderr
        assert full.stderr.strip().splitlines()[-1].startswith("error: "), full.stderr
        assert (runs / "full" / "manifest.json").read_bytes() == manifest, "what was written before was damaged"
    finally:
        subprocess.run(["umount", "-l", str(runs)], capture_output=True)
