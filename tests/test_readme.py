"""The README's Python snippets run as written from a directory outside the repository.

Each ```python block is executed in a fresh interpreter whose working directory is a temporary directory (as in
a notebook folder or a user's project). The sweep snippet runs the shipped sweep it names, shortened: the
test wraps ``run_sweep`` so that the same sweep file is loaded from the snippet's argument (proving that the
name resolves from anywhere) and then run with 2 steps, 20 agents per segment and one replication, in-process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SNIPPETS = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL)

SHORTEN_SWEEPS = textwrap.dedent('''
    import experiments.sweep as _sweep
    from experiments.sweep_config import load_sweep_config as _load

    _real_run_sweep = _sweep.run_sweep

    def _short_run_sweep(sweep, out, **kwargs):
        config, base = _load(sweep)  # resolves the snippet's argument from this working directory
        settings = {**config.settings, "simulation.steps": 2}
        settings.update({f"segments.{i}.n_agents": 20 for i in range(len(base["segments"]))})
        short = config.model_copy(update={"settings": settings, "replications": 1})
        return _real_run_sweep(short, out, workers=1)

    _sweep.run_sweep = _short_run_sweep
''')


def test_the_readme_has_python_snippets() -> None:
    assert len(SNIPPETS) >= 2
    assert any("load_scenario(" in s for s in SNIPPETS) and any("run_sweep(" in s for s in SNIPPETS)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_a_readme_snippet_runs_from_another_directory(snippet: str, tmp_path: Path) -> None:
    code = SHORTEN_SWEEPS + snippet
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    if "run_sweep(" in snippet:
        assert (tmp_path / "results" / "switching_mu" / "sweep.json").is_file()
