"""The lock of a result directory (experiments/locks.py): refusal, stale locks, pid reuse, other hosts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from experiments.locks import LOCK_FILE, DirectoryLock, DirectoryLockedError, check_unlocked, this_process


def write_lock(directory: Path, **fields: object) -> Path:
    holder = {**this_process().__dict__, **fields}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LOCK_FILE).write_text(json.dumps(holder))
    return directory / LOCK_FILE


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_is_exclusive_within_a_process_and_released(tmp_path: Path) -> None:
    with DirectoryLock(tmp_path / "out") as lock:
        holder = json.loads(lock.path.read_text())
        assert holder["pid"] == os.getpid()
        check_unlocked(tmp_path / "out")  # our own lock does not block our own checks
        with pytest.raises(DirectoryLockedError, match="already in use by this process"):
            DirectoryLock(tmp_path / "out").acquire()
    assert not (tmp_path / "out" / LOCK_FILE).exists()


def test_live_holder_is_refused_with_its_pid_and_command(tmp_path: Path) -> None:
    parent = os.getppid()  # alive: pytest's parent
    from experiments.locks import process_start

    write_lock(tmp_path, pid=parent, process_start=process_start(parent), command="ieco sweep s.toml --out x")
    with pytest.raises(DirectoryLockedError, match=rf"in use by another ieco process \(pid {parent} on .*"
                                                   r"ieco sweep s.toml --out x\); wait for it"):
        DirectoryLock(tmp_path).acquire()


@pytest.mark.parametrize("case", ["dead pid", "reused pid"])
def test_stale_lock_is_taken_over(case: str, tmp_path: Path) -> None:
    fields = {"pid": dead_pid()} if case == "dead pid" else {"process_start": "1"}  # our pid, another start
    write_lock(tmp_path, **fields)
    with DirectoryLock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()


def test_lock_from_another_host_is_never_taken_over(tmp_path: Path) -> None:
    path = write_lock(tmp_path, host="some-other-node", pid=1)
    with pytest.raises(DirectoryLockedError, match=f"if that process no longer runs, delete {path}"):
        DirectoryLock(tmp_path).acquire()


def test_unreadable_lock_is_refused(tmp_path: Path) -> None:
    (tmp_path / LOCK_FILE).write_text("{not json")
    with pytest.raises(DirectoryLockedError, match="cannot be read"):
        DirectoryLock(tmp_path).acquire()
