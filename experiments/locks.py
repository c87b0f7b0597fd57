"""One driver per result directory: a lock file that a killed driver does not leave stuck.

A sweep (``ieco sweep``, ``run_sweep``) or a thesis run (``ieco theses``) holds ``OUT/.lock`` while it
writes to ``OUT``; a second one on the same directory, including a second ``--resume``, is refused with a
message naming the holder. The lock file records the holder's pid, host, process start time, the time it took
the lock and its command line.

Stale-lock rule: on the same host, a lock whose pid no longer runs (or is a zombie), or whose pid now belongs to
another process (its start time differs: the pid was reused), is stale and is taken over silently. A lock taken on
another host cannot be checked from here and is never taken over: if that driver is gone, delete the lock
file by hand (the refusal message names it).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from experiments.outputs import file_mode, output_errors
from market.config.files import ConfigError

LOCK_FILE = ".lock"
"""Name of the lock file inside a result directory."""


_HELD: set[Path] = set()
"""Directories whose lock this process holds."""


class DirectoryLockedError(ConfigError):
    """The result directory is being written by another live process (reported with exit code 2)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock.

    Attributes:
        pid: Process id of the holder.
        host: Host name of the holder.
        process_start: Start time of the holder's process (``/proc/<pid>/stat`` ticks since boot; '' if unknown).
        since: When the lock was taken (UTC, ISO 8601).
        command: The holder's command line.
    """

    pid: int
    host: str
    process_start: str
    since: str
    command: str


def process_start(pid: int) -> str:
    """Start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), or '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


def is_alive(holder: LockHolder) -> bool | None:
    """Whether the holder still runs: ``True``/``False`` on this host, ``None`` on another host."""
    if holder.host != platform.node():
        return None
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # a process of another user: it exists
    if holder.process_start and process_start(holder.pid) not in ("", holder.process_start):
        return False  # the pid was reused by another process
    return not is_zombie(holder.pid)


def is_zombie(pid: int) -> bool:
    """Whether process ``pid`` has ended but not been reaped by its parent (Linux ``/proc``)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[:1] == ["Z"]


def this_process() -> LockHolder:
    """A :class:`LockHolder` describing the calling process."""
    return LockHolder(pid=os.getpid(), host=platform.node(), process_start=process_start(os.getpid()),
                      since=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), command=" ".join(sys.argv))


def read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in a lock file, or ``None`` if the file is unreadable or malformed."""
    try:
        data = json.loads(path.read_text())
        return LockHolder(**{key: data[key] for key in LockHolder.__dataclass_fields__})
    except (OSError, ValueError, TypeError, KeyError):
        return None


class DirectoryLock:
    """Exclusive use of a result directory by this process, as a context manager.

    Args:
        directory: The result directory (created if missing).
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_FILE
        self.holder = this_process()
        self.held = False

    def acquire(self) -> None:
        """Take the lock, taking over a stale one.

        Raises:
            DirectoryLockedError: Another live process (or one on another host) holds it.
        """
        with output_errors(self.directory):
            self.directory.mkdir(parents=True, exist_ok=True)
        if self.directory.resolve() in _HELD:
            raise DirectoryLockedError(f"{self.directory} is already in use by this process")
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
            except FileExistsError:
                check_unlocked(self.directory)  # raises unless the lock is stale
                self.path.unlink(missing_ok=True)  # stale: take it over
                continue
            except OSError as exc:
                with output_errors(self.path):
                    raise exc
            with os.fdopen(fd, "w") as fh:
                json.dump(asdict(self.holder), fh)
            self.held = True
            _HELD.add(self.directory.resolve())
            return
        check_unlocked(self.directory)

    def release(self) -> None:
        """Give the lock back (only if this process still holds it)."""
        if self.held:
            holder = read_holder(self.path)
            if holder is not None and (holder.pid, holder.host) == (self.holder.pid, self.holder.host):
                self.path.unlink(missing_ok=True)
            self.held = False
            _HELD.discard(self.directory.resolve())

    def __enter__(self) -> DirectoryLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def check_unlocked(directory: str | Path) -> None:
    """Raise unless ``directory`` is free: no lock file, a stale one (see the module's rule), or this process's.

    Raises:
        DirectoryLockedError: A live process, or a process on another host, holds the directory.
    """
    path = Path(directory) / LOCK_FILE
    if not path.exists() or Path(directory).resolve() in _HELD:
        return
    holder = read_holder(path)
    if holder is None:
        raise DirectoryLockedError(f"{directory} is locked by {path}, which cannot be read; if no other ieco "
                                   "process writes there, delete that file")
    alive = is_alive(holder)
    if alive is False:
        return
    where = f"pid {holder.pid} on {holder.host}, since {holder.since}"
    hint = ("wait for it to finish (or stop it)" if alive else
            f"if that process no longer runs, delete {path}")
    raise DirectoryLockedError(f"{directory} is in use by another ieco process ({where}: {holder.command}); {hint}")
