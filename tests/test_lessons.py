"""Lessons never rot: every lesson runs here in its fast mode, from another working directory, and must
exit cleanly (each lesson ends by asserting what it measured) and write at least one figure."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_fast_and_writes_figures(lesson, tmp_path):
    env = dict(os.environ, MINIGPTIMAGE_FAST="1", MINIGPTIMAGE_OUT=str(tmp_path / "out"), MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)  # a lesson must find the package by itself, from any directory
    run = subprocess.run([sys.executable, str(lesson)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    figures = list((tmp_path / "out").glob("*.png"))
    assert figures, f"{lesson.name} wrote no PNG figure"
