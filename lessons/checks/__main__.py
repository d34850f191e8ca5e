"""Check a lesson's exercises without running the lesson: ``python -m lessons.checks 08`` (from the repository
root) takes the `exercise_*` functions you wrote in lessons/08_*.py, with the lesson's imports, and prints each
check's verdict — useful when the lesson itself takes minutes (08 trains a model) or is running already.
"""
from __future__ import annotations

import __future__
import ast
import importlib
import sys
from pathlib import Path

from . import report

LESSONS = Path(__file__).resolve().parent.parent


def _literal(node) -> bool:
    """A top-level ``NAME = <literal>`` (a constant a learner's function may read)."""
    try:
        return isinstance(node, ast.Assign) and ast.literal_eval(node.value) is not None
    except ValueError:
        return False


def exercises_of(lesson: Path) -> dict:
    """The lesson's top-level imports, literal constants and functions (the `exercise_*` ones and any helper a
    learner wrote beside them), executed alone → {name: exercise function}."""
    tree = ast.parse(lesson.read_text(encoding="utf-8"))
    keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef))
            or _literal(node)]
    namespace = {"__name__": f"exercises_of_{lesson.stem}"}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(lesson), "exec",
                 flags=__future__.annotations.compiler_flag, dont_inherit=True), namespace)
    return {name: value for name, value in namespace.items() if name.startswith("exercise_")}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    lessons = sorted(LESSONS.glob(f"{argv[0]}_*.py")) if len(argv) == 1 else []
    if len(lessons) != 1:
        print("usage: python -m lessons.checks NN   (NN = a lesson number, 01 … 16)", file=sys.stderr)
        return 2
    checks = importlib.import_module(f"lessons.checks.{lessons[0].stem}")
    for name, function in exercises_of(lessons[0]).items():
        report(getattr(checks, "check_" + name.removeprefix("exercise_")), function, name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
