"""Where results go and how they are written (experiments/outputs.py, ieco run --out)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from experiments.cli import app
from experiments.outputs import default_run_dir, safe_component, write_json_atomic

REPO = Path(__file__).resolve().parents[2]
DUOPOLY = REPO / "experiments" / "configs" / "validation" / "logit_duopoly.toml"

runner = CliRunner()


def invoke(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, " ".join(result.output.split())


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "..", ".hidden", "a/../../b", "x\\y", ""])
def test_default_output_stays_under_results(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = default_run_dir(name)
    assert out.parent == Path("results") and out.name == safe_component(name)
    assert "/" not in out.name and not out.name.startswith(".")
    code, output = invoke("run", DUOPOLY, "--steps", "2", "--set", f"name={json.dumps(name)}")
    assert code == 0, output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == [out.name]


def test_run_refuses_to_replace_without_overwrite_and_never_deletes_foreign_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert invoke("run", DUOPOLY, "--steps", "2", "--out", out)[0] == 0
    first = (out / "manifest.json").read_text()
    code, output = invoke("run", DUOPOLY, "--steps", "3", "--out", out)
    assert code == 2 and f"output directory {out}: holds an earlier run; pass --overwrite" in output
    assert (out / "manifest.json").read_text() == first
    assert invoke("run", DUOPOLY, "--steps", "3", "--out", out, "--overwrite")[0] == 0
    assert json.loads((out / "manifest.json").read_text())["steps"] == 3
    (out / "my_notes.txt").write_text("mine")
    code, output = invoke("run", DUOPOLY, "--steps", "2", "--out", out, "--overwrite")
    assert code == 2 and "not empty and holds no run of ours" in output
    assert (out / "my_notes.txt").read_text() == "mine"


def test_parent_that_is_a_file_gives_exit_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("keep")
    code, output = invoke("run", DUOPOLY, "--steps", "2", "--out", tmp_path / "plain" / "sub")
    assert code == 2 and f"{tmp_path / 'plain'} is a file, not a directory" in output
    assert "Traceback" not in output
    assert (tmp_path / "plain").read_text() == "keep"


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A read-only directory: a read-only tmpfs where it can be mounted (root), else a 0o555 directory."""
    target = tmp_path / "ro"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(target)],
                             capture_output=True, check=False).returncode == 0
    if not mounted:
        if os.geteuid() == 0:
            pytest.skip("root ignores directory permissions and cannot mount a read-only tmpfs here")
        target.chmod(0o555)
    yield target
    if mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)
    else:
        target.chmod(0o755)


def test_read_only_parent_gives_exit_2_naming_it(read_only_dir: Path) -> None:
    code, output = invoke("run", DUOPOLY, "--steps", "2", "--out", read_only_dir / "run")
    assert code == 2, output
    assert str(read_only_dir) in output and ("not writable" in output or "read-only" in output)
    assert "Traceback" not in output


def test_results_are_readable_as_the_umask_allows(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        assert invoke("run", DUOPOLY, "--steps", "2", "--out", tmp_path / "run")[0] == 0
        write_json_atomic(tmp_path / "doc.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o775
    for path in (tmp_path / "run").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path
    assert stat.S_IMODE((tmp_path / "doc.json").stat().st_mode) == 0o664


def test_manifest_records_the_command_line_and_overrides(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, _ = invoke("run", DUOPOLY, "--steps", "2", "--out", out, "--set", "logit.mu=0.3",
                     "--set", "providers.firm.pricing.objective=industry")
    assert code == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["overrides"] == ["logit.mu=0.3", "providers.firm.pricing.objective=industry"]
    assert isinstance(manifest["command"], str) and manifest["command"]


def test_manifest_command_is_the_real_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "experiments.cli", "run", str(DUOPOLY),
                           "--steps", "2", "--out", str(out), "--set", "logit.mu=0.3"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    command = json.loads((out / "manifest.json").read_text())["command"]
    assert command.endswith(f"run {DUOPOLY} --steps 2 --out {out} --set logit.mu=0.3")



def test_theses_refuse_a_directory_holding_other_files(tmp_path: Path) -> None:
    (tmp_path / "verdicts_of_mine.md").write_text("mine")
    code, output = invoke("theses", "--out", tmp_path, "--only", "jevons", "--workers", "1")
    assert code == 2 and "holds files that are not thesis results (verdicts_of_mine.md)" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verdicts_of_mine.md"]


def test_theses_accept_a_directory_holding_their_own_final_verdicts(tmp_path: Path) -> None:
    # `ieco theses --robustness ... --over-worlds F --resume` re-judges a robustness directory that already holds
    # the final verdicts it wrote; those files are thesis results, not foreign ones.
    from experiments.verdicts import check_theses_dir
    from market.config.errors import ConfigError

    for name in ("robustness.md", "robustness.parquet", "verdicts_final.md", "verdicts_final.parquet"):
        (tmp_path / name).write_text("")
    check_theses_dir(tmp_path)  # raises ConfigError on a foreign file
    (tmp_path / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match=r"notes\.md"):
        check_theses_dir(tmp_path)
