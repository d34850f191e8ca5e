"""Every lesson in fast mode, as a subprocess of its own, started in the background as soon as pytest has
collected a lesson test: the rest of the suite runs on one thread in the main process, so on a 2-core machine
the lessons use the other core instead of waiting their turn (the suite's time, not what is checked, changes)."""
import os
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

LESSONS = sorted((Path(__file__).resolve().parent.parent / "lessons").glob("[0-9][0-9]_*.py"))
_pool = ThreadPoolExecutor(max_workers=1)  # one lesson at a time: one core, beside the main process's one
_runs: dict[str, Future] = {}


def run_lesson(lesson: Path, workdir: Path) -> subprocess.CompletedProcess:
    """``lesson`` in fast mode from ``workdir`` (figures in workdir/out), on one thread, without PYTHONPATH (a
    lesson must find the package by itself, from any directory)."""
    env = dict(os.environ, MINIGPTIMAGE_FAST="1", MINIGPTIMAGE_OUT=str(workdir / "out"), MPLBACKEND="Agg",
               OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, str(lesson)], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=600)


def _run_in_new_dir(lesson: Path) -> tuple[subprocess.CompletedProcess, Path]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{lesson.stem}_"))
    return run_lesson(lesson, workdir), workdir


def start(names) -> None:
    """Queue the lessons named (file stems) that are not queued yet, in course order."""
    for lesson in LESSONS:
        if lesson.stem in names and lesson.stem not in _runs:
            _runs[lesson.stem] = _pool.submit(_run_in_new_dir, lesson)


def result(lesson: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """(the finished run, its working directory) of ``lesson``; started now if it was not queued."""
    start({lesson.stem})
    return _runs[lesson.stem].result()
