"""Atomic writes of the analysis layer (analysis/files.py)."""

from __future__ import annotations

import os
from pathlib import Path

from analysis.files import write_atomic


def test_a_file_is_replaced_whole_with_the_umask_mode_and_no_temporary_left(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "figure.png"
    write_atomic(target, b"old")
    old_mask = os.umask(0o027)
    try:
        write_atomic(target, b"new")
    finally:
        os.umask(old_mask)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o640  # 0o666 less the umask 0o027
    assert [p.name for p in target.parent.iterdir()] == ["figure.png"]
