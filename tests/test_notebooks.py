"""A lesson opened in Jupyter shows its figures: lesson 13 (a few seconds in fast mode) is converted by
`lessons/make_notebooks.py` (jupytext) and executed by nbclient in the venv's `python3` kernel, and its outputs
must hold images (image/png) and no stray value at the end of a cell. CI installs requirements-notebooks.txt;
elsewhere the test skips when jupytext, nbclient or ipykernel is missing."""
import importlib.util
import sys
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent


def load_make_notebooks():
    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "lessons" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lesson_13_as_a_notebook_shows_its_figures(tmp_path, monkeypatch):
    make_notebooks = load_make_notebooks()
    monkeypatch.setenv("MINIGPTIMAGE_FAST", "1")  # the kernel inherits this process's environment
    monkeypatch.setenv("MINIGPTIMAGE_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # as in Jupyter: the kernel chooses (inline)
    monkeypatch.delenv("PYTHONPATH", raising=False)  # the notebook finds the package by itself, from lessons/
    (script,) = make_notebooks.lesson_paths(["13"])

    notebook = make_notebooks.execute(make_notebooks.to_notebook(script), timeout=600)

    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.get("outputs", [])]
    errors = [out for out in outputs if out.output_type == "error"]
    assert not errors, errors
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 2, f"expected the lesson's figures inline, got {len(images)} image outputs"
    stray = [out["data"].get("text/plain") for out in outputs if out.output_type == "execute_result"]
    assert not stray, f"cells end with a stray value: {stray}"
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")), "the figures should still be written to files"
    assert sys.executable  # the kernel is the native python3 of this interpreter (ipykernel installed here)
