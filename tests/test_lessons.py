"""Lessons never rot: every lesson runs here in its fast mode, from another working directory, and must
exit cleanly (each lesson ends by asserting what it measured) and write at least one figure; lesson 08, run
twice, keeps its first run."""
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
    figures = list((tmp_path / "out").rglob("*.png"))  # lesson 08 writes its figures into its run's folder
    assert figures, f"{lesson.name} wrote no PNG figure"


def test_lesson08_rerun_keeps_the_previous_run(tmp_path):
    """Two fast runs of lesson 08 into the same output folder: run_01 is still there, untouched, beside run_02."""
    lesson = next(p for p in LESSONS if p.name.startswith("08_"))
    env = dict(os.environ, MINIGPTIMAGE_FAST="1", MINIGPTIMAGE_OUT=str(tmp_path / "out"), MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)
    first = subprocess.run([sys.executable, str(lesson)], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert first.returncode == 0, first.stderr[-4000:]
    runs = tmp_path / "out" / "lesson08_runs"
    before = {p.name: p.stat().st_mtime_ns for p in (runs / "run_01").iterdir()}
    second = subprocess.run([sys.executable, str(lesson)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert second.returncode == 0, second.stderr[-4000:]
    assert sorted(p.name for p in runs.iterdir()) == ["run_01", "run_02"]
    assert {p.name: p.stat().st_mtime_ns for p in (runs / "run_01").iterdir()} == before
    assert "earlier runs kept: run_01" in second.stdout
