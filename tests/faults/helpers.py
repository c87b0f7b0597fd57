"""Helpers of the fault tests: the CLI as a real process, waiting, small file systems, Ray processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASELINE = REPO / "experiments" / "configs" / "baseline.toml"

SMALL_SWEEP = """
name = "{name}"
base = "base.toml"
replications = {replications}
root_seed = 23

[settings]
"simulation.steps" = {steps}
"segments.0.n_agents" = {agents}
"segments.1.n_agents" = {agents}
"segments.2.n_agents" = {agents}

[[parameters]]
name = "mu"
path = "logit.mu"
values = [0.25, 0.5]
"""


def write_sweep(directory: Path, *, name: str = "fault_check", replications: int = 3, steps: int = 12,
                agents: int = 200) -> Path:
    """A two-point sweep of a reduced baseline (a snapshot of the base config beside it)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(BASELINE, directory / "base.toml")
    path = directory / "sweep.toml"
    path.write_text(SMALL_SWEEP.format(name=name, replications=replications, steps=steps, agents=agents))
    return path


def start_cli(*args: object, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``ieco ARGS`` as a child process with default SIGINT handling (stdout and stderr captured)."""
    def restore_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *map(str, args)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})},
                            preexec_fn=restore_sigint)


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``ieco ARGS`` to completion as a child process."""
    proc = start_cli(*args, env=env)
    out, err = proc.communicate(timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def wait_until(condition: Callable[[], bool], timeout: float, what: str,
               proc: subprocess.Popen[str] | None = None) -> None:
    """Poll ``condition`` every 20 ms; fail after ``timeout`` seconds or if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process ended before {what}: {proc.stderr.read() if proc.stderr else ''}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@contextmanager
def tmpfs(size: str) -> Iterator[Path | None]:
    """A tmpfs of ``size`` mounted on a fresh directory, or ``None`` where mounting is not allowed."""
    mount_point = Path(tempfile.mkdtemp(prefix="ieco-tmpfs-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)],
                             capture_output=True, check=False).returncode == 0
    try:
        yield mount_point if mounted else None
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, check=False)
        shutil.rmtree(mount_point, ignore_errors=True)


def resize_tmpfs(mount_point: Path, size: str) -> None:
    """Change the size of a tmpfs mounted by :func:`tmpfs`."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(mount_point)], check=True, capture_output=True)


def children_of(pid: int) -> list[int]:
    """All descendants of process ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def command_of(pid: int) -> str:
    """The command line of process ``pid`` ('' if it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time that process ``pid`` has used so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_processes(pids: list[int], grace_s: float = 10.0) -> None:
    """SIGTERM the given processes (ours), then SIGKILL those still alive after ``grace_s``."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in pids):
        time.sleep(0.1)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
