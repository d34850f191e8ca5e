"""Lessons never rot: every lesson runs here in its fast mode, from another working directory, and must
exit cleanly (each lesson ends by asserting what it measured) and write at least one figure; lesson 08 trains
into a new run folder."""
import pytest

from lesson_runs import LESSONS, result


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_runs_fast_and_writes_figures(lesson):
    """Run in the background from the start of the session (lesson_runs.py, conftest.py)."""
    run, workdir = result(lesson)
    assert run.returncode == 0, f"{lesson.name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    figures = list((workdir / "out").rglob("*.png"))  # lesson 08 writes its figures into its run's folder
    assert figures, f"{lesson.name} wrote no PNG figure"


def test_lesson08_trains_into_a_new_run_folder():
    """Lesson 08 picks its folder with checkpoints.new_run_folder (a second run gets run_02: tested there) and
    trains into it."""
    lesson = next(p for p in LESSONS if p.name.startswith("08_"))
    run, workdir = result(lesson)
    assert run.returncode == 0, run.stderr[-4000:]
    run_01 = workdir / "out" / "lesson08_runs" / "run_01"
    assert f"this run: {run_01}" in run.stdout and "earlier runs kept" not in run.stdout
    assert list(run_01.glob("ckpt_*.pt"))


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
