"""Write every lesson as a Jupyter notebook, next to its script: lessons/NN_topic.py -> lessons/NN_topic.ipynb.

    pip install -r requirements-notebooks.txt
    python lessons/make_notebooks.py                 # convert all sixteen (a second or two)
    python lessons/make_notebooks.py 01 13           # only these lessons
    python lessons/make_notebooks.py --execute 13    # convert and run, so the notebook opens with its figures
                                                     # (MINIGPTIMAGE_FAST=1 in the environment: the fast mode)

The scripts are the source: jupytext keeps their `# %% [markdown]` cells as markdown and their `# %%` cells as
code, and git ignores the .ipynb files, so edit the .py and convert again. A notebook runs with its own folder,
lessons/, as the current directory, which is how a lesson finds the package without `__file__`; its figures
show under the cells that draw them and are also written to lessons/out/ (or $MINIGPTIMAGE_OUT).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

LESSONS = Path(__file__).resolve().parent


def lesson_paths(numbers=()) -> list[Path]:
    """The lesson scripts, all of them or those whose number is in ``numbers`` ("01", "13", …)."""
    paths = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
    return [p for p in paths if not numbers or p.name[:2] in numbers]


def to_notebook(script: Path):
    """The lesson as an nbformat notebook (nothing executed), for the venv's ``python3`` kernel."""
    import jupytext
    notebook = jupytext.read(script, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook


def execute(notebook, timeout: int = 1800):
    """Run every cell in a kernel started in lessons/; the notebook then holds the outputs (figures as image/png)."""
    from nbclient import NotebookClient
    NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(LESSONS)}}).execute()
    return notebook


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Write the lessons as Jupyter notebooks next to the scripts.")
    parser.add_argument("lessons", nargs="*", help="lesson numbers (01 … 15); default: all")
    parser.add_argument("--execute", action="store_true", help="also run each notebook, keeping its outputs")
    args = parser.parse_args(argv)
    try:
        import jupytext  # noqa: F401
        import nbformat
    except ImportError:
        print("make_notebooks: jupytext is missing; run `pip install -r requirements-notebooks.txt`", file=sys.stderr)
        return 2
    paths = lesson_paths(args.lessons)
    if not paths:
        print(f"make_notebooks: no lesson numbered {' '.join(args.lessons)}", file=sys.stderr)
        return 2
    for script in paths:
        notebook = to_notebook(script)
        if args.execute:
            execute(notebook)
        nbformat.write(notebook, script.with_suffix(".ipynb"))
        print(f"wrote {script.with_suffix('.ipynb').relative_to(LESSONS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
