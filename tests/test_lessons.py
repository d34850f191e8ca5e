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


def test_lesson08s_fast_mode_trains_the_workshop_recipe_of_its_full_mode():
    """The fast run's checkpoint holds the recipe it trained with: the tiny-workshop preset's, only smaller."""
    import dataclasses
    import torch
    from minigptimage.train import TrainConfig
    lesson = next(p for p in LESSONS if p.name.startswith("08_"))
    run, workdir = result(lesson)
    assert run.returncode == 0, run.stderr[-4000:]
    newest = sorted((workdir / "out" / "lesson08_runs" / "run_01").glob("ckpt_*.pt"))[-1]
    trained = torch.load(newest, weights_only=True)["train_state"]["train_config"]
    full = dataclasses.asdict(TrainConfig.preset("tiny-workshop"))
    sizes = {"batch_size", "latent_cache"}
    assert {k: v for k, v in trained.items() if k not in sizes} == {k: v for k, v in full.items() if k not in sizes}
