"""Writing results safely: atomic files and directories, readable modes, and where a run may write.

Every file ``experiments/`` writes goes through this module:

* :func:`write_file_atomic` (and :func:`write_bytes_atomic`, :func:`write_text_atomic`,
  :func:`write_json_atomic`) writes to a hidden temporary file in the target's directory, flushes it to disk
  and moves it into place with :func:`os.replace`: a reader sees the old file or the new one, never half.
* :func:`write_dir_atomic` fills a hidden temporary sibling directory and renames it into place.
* Files and directories get the modes the umask allows (``0o666`` / ``0o777`` less the umask), not the
  ``0o600`` / ``0o700`` of :mod:`tempfile`, so results can be shared with the group as usual.
* An :class:`OSError` while writing (a parent that is a file, a read-only directory, a full disk) becomes an
  :class:`OutputError` naming the path; the temporary files are removed and what was there before is intact.

The policy of ``ieco run --out`` (:func:`check_run_dir`): a missing or empty directory is written; a directory
holding an earlier run of ours (a ``manifest.json`` of a run and only the files a run writes) is replaced only
when asked (``overwrite=True``, ``--overwrite``); any other non-empty directory is refused, so nothing that
this tool did not write is ever deleted. Without ``--out`` a run goes to ``results/<scenario name>``, the name
reduced to one safe path component (:func:`default_run_dir`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from market.config.files import ConfigError

RESULTS_DIR = Path("results")
"""Where runs without ``--out`` go (relative to the working directory)."""

RUN_FILES = frozenset({"model.parquet", "providers.parquet", "enterprises.parquet", "gpu_market.parquet",
                       "events.parquet", "offers.parquet", "manifest.json", "networks", "figures"})
"""Everything a run directory of ours may hold (tables, manifest, networks/, figures/)."""


class OutputError(ConfigError):
    """An output location that cannot or must not be written (reported like bad input: exit code 2)."""


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new result file: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """Mode of a new result directory: ``0o777`` less the umask."""
    return 0o777 & ~_umask()


def describe_os_error(exc: OSError) -> str:
    """A short reason for an OS error ('no space left on device', 'permission denied', ...)."""
    if exc.errno == errno.ENOSPC:
        return "no space left on device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (read-only location)" if exc.errno == errno.EROFS else "permission denied"
    if exc.errno == errno.ENOTDIR:
        return "a parent is a file, not a directory"
    return exc.strerror or type(exc).__name__


@contextmanager
def output_errors(path: Path) -> Iterator[None]:
    """Turn an :class:`OSError` raised inside the block into an :class:`OutputError` naming ``path``."""
    try:
        yield
    except OutputError:
        raise
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) and exc.filename else str(path)
        raise OutputError(f"cannot write {path}: {describe_os_error(exc)} ({where})") from exc


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file that then replaces ``path``.

    Raises:
        OutputError: The file cannot be written (its directory is missing, read-only, full, ...).
    """
    target = Path(path)
    with output_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        tmp = Path(name)
        try:
            write(tmp)
            _sync(tmp)
            tmp.chmod(file_mode())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target


def write_bytes_atomic(path: str | Path, payload: bytes) -> Path:
    """Write ``payload`` to ``path`` atomically."""
    return write_file_atomic(path, lambda tmp: tmp.write_bytes(payload))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    return write_file_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def json_text(document: Any) -> str:
    """``document`` as the JSON text of every result file (sorted keys, indented, newline-terminated)."""
    return json.dumps(document, indent=2, sort_keys=True, default=str) + "\n"


def write_json_atomic(path: str | Path, document: Any) -> Path:
    """Write ``document`` as JSON to ``path`` atomically."""
    return write_text_atomic(path, json_text(document))


def fix_modes(root: Path) -> None:
    """Give ``root`` and everything under it the modes the umask allows."""
    files, dirs = file_mode(), dir_mode()
    root.chmod(dirs)
    for parent, subdirs, names in os.walk(root):
        for name in subdirs:
            Path(parent, name).chmod(dirs)
        for name in names:
            Path(parent, name).chmod(files)


def write_dir_atomic(path: str | Path, fill: Callable[[Path], Any], *, replace: bool = False) -> Path:
    """Create directory ``path`` atomically: ``fill(tmp)`` writes into a temporary sibling renamed into place.

    Args:
        path: The directory to create.
        fill: Writes the directory's contents into the temporary directory it is given.
        replace: Replace an existing ``path`` (swapped out, then deleted); otherwise ``path`` must be missing
            or empty.

    Raises:
        OutputError: ``path`` cannot be written, or exists and is not empty while ``replace`` is false.
    """
    target = Path(path)
    with output_errors(target):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            fill(tmp)
            fix_modes(tmp)
            if target.exists() and any(target.iterdir()):
                if not replace:
                    raise OutputError(f"{target}: directory is not empty")
                replace_dir(tmp, target)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def replace_dir(src: Path, dst: Path) -> None:
    """Move directory ``src`` to ``dst``, replacing an existing ``dst`` with a near-atomic swap."""
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old-{os.getpid()}")
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(src, dst)


# ---------------------------------------------------------------------------------------------------------
# where a single run may write
# ---------------------------------------------------------------------------------------------------------


def safe_component(name: str) -> str:
    """``name`` reduced to one harmless path component: no separators, no leading dots, never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).lstrip(".")
    return cleaned or "scenario"


def default_run_dir(scenario_name: str) -> Path:
    """``results/<name>`` for a scenario name, whatever the name holds (``../x`` or ``/etc`` stay inside)."""
    out = RESULTS_DIR / safe_component(scenario_name)
    if out.resolve().parent != RESULTS_DIR.resolve():  # pragma: no cover - guaranteed by safe_component
        raise OutputError(f"scenario name '{scenario_name}' gives an output outside {RESULTS_DIR}")
    return out


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run this tool wrote (a run manifest and nothing but a run's files)."""
    manifest = path / "manifest.json"
    try:
        document = json.loads(manifest.read_text())
        names = {p.name for p in path.iterdir()}
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and {"run_id", "scenario", "config"} <= set(document) and names <= RUN_FILES


def check_run_dir(path: str | Path, *, overwrite: bool, flag: str = "overwrite=True") -> None:
    """Check that a run may be written to ``path``, writing nothing.

    Args:
        path: The run's output directory.
        overwrite: Whether an earlier run of ours in ``path`` may be replaced.
        flag: How the caller asks for ``overwrite`` (``--overwrite`` on the command line).

    Raises:
        OutputError: ``path`` is a file, lies under a file, is not writable, holds an earlier run and
            ``overwrite`` is false, or holds anything else.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output directory {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not is_run_dir(out):
            raise OutputError(f"output directory {out}: not empty and holds no run of ours; choose another "
                              "directory (nothing in it is deleted)")
        if not overwrite:
            raise OutputError(f"output directory {out}: holds an earlier run; pass {flag} to replace it")
    parent = out.absolute().parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), Path("/"))
    if not existing.is_dir():
        raise OutputError(f"output directory {out}: {existing} is a file, not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output directory {out}: {existing} is not writable")
