"""Lessons never rot: every lesson runs here in its fast mode, from another working directory, and must
exit cleanly (each lesson ends by asserting what it measured) and write at least one figure; lesson 08, run
twice, keeps its first run."""
import pytest

from lesson_runs import LESSONS, result, run_lesson


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_fast_and_writes_figures(lesson):
    """Run in the background from the start of the session (lesson_runs.py, conftest.py)."""
    run, workdir = result(lesson)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    figures = list((workdir / "out").rglob("*.png"))  # lesson 08 writes its figures into its run's folder
    assert figures, f"{lesson.name} wrote no PNG figure"


def test_lesson08_rerun_keeps_the_previous_run():
    """Two fast runs of lesson 08 into the same output folder: run_01 is still there, untouched, beside run_02."""
    lesson = next(p for p in LESSONS if p.name.startswith("08_"))
    first, workdir = result(lesson)  # the run test_lesson_runs_fast_and_writes_figures checks
    assert first.returncode == 0, first.stderr[-4000:]
    runs = workdir / "out" / "lesson08_runs"
    before = {p.name: p.stat().st_mtime_ns for p in (runs / "run_01").iterdir()}
    second = run_lesson(lesson, workdir)
    assert second.returncode == 0, second.stderr[-4000:]
    assert sorted(p.name for p in runs.iterdir()) == ["run_01", "run_02"]
    assert {p.name: p.stat().st_mtime_ns for p in (runs / "run_01").iterdir()} == before
    assert "earlier runs kept: run_01" in second.stdout
