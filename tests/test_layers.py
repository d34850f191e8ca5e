"""Imports point one way (README.md, "The three components, and where they live"): the command line and
benchmarks → training and evaluation → pipeline.py → the model's parts and their sampling loops → the maths
and the text rules. Read from the source with ``ast`` (imports inside functions count too), so a lazy import
cannot hide a layer pointing up.

    __main__, benchmarks/*                         the command line and the benchmarks
        │
        ▼
    train ─► training_data, distributed            training           evaluate ─► reader, scoring
        │                                                                 │
        └──────────────────────────────┬──────────────────────────────────┘
                                       ▼
                                  pipeline.py                           generate, inpaint, edit; save / load
                                       │
       ┌──────────┬─────────┬──────────┼──────────┬───────────┬──────────┬───────────────┐
       ▼          ▼         ▼          ▼          ▼           ▼          ▼               ▼
   tokenizer   encoder    unet       vae      samplers     editing      ink      checkpoints, devices
   layout         │         │                     │       (RePaint,  (pixel
   captions       └─► attention ◄┘             schedule    SDEdit)   measures)
"""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "minigptimage"

# what judges or trains a model, and the entry points above them
ABOVE_THE_MODEL = {"minigptimage.reader", "minigptimage.scoring", "minigptimage.evaluate", "minigptimage.train",
                   "minigptimage.training_data", "minigptimage.distributed", "minigptimage.__main__",
                   "minigptimage.cli", "minigptimage.demo", "minigptimage.launch", "minigptimage.vae_training",
                   "minigptimage.benchmarks"}
# the model: the three components, their sampling loops, and what they stand on
MODEL = ["pipeline", "config", "request", "encoder", "unet", "vae", "samplers", "gaussian_mixture", "schedule",
         "editing", "attention", "tokenizer", "layout", "captions", "composed_captions", "ink", "checkpoints",
         "devices"]
# pipeline.py's own imports: the model's parts, nothing that judges or trains
PIPELINE_PARTS = {"config", "request", "tokenizer", "layout", "encoder", "unet", "vae", "schedule", "samplers",
                  "editing", "ink", "checkpoints", "devices"}
# known exceptions, each with the reason it is still there (empty when the layers are clean)
PENDING = {}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every module of the package -> the package modules it imports (the package root itself left out)."""
    graph = {}
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    for path in paths:
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                found |= {target} | {f"{target}.{a.name}" for a in node.names}  # `from . import layout`
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m not in (name, "minigptimage")}
    return graph


def reachable(graph, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for m in graph[todo.pop()] - seen:
            seen.add(m)
            todo.append(m)
    return seen


def above(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in ABOVE_THE_MODEL)


def test_the_parser_sees_relative_absolute_and_lazy_imports():
    graph = imports()
    assert {"minigptimage.samplers", "minigptimage.schedule", "minigptimage.unet"} <= graph["minigptimage.pipeline"]
    assert "minigptimage.watermark" in graph["minigptimage.provenance"]  # `from minigptimage.watermark import`
    assert "minigptimage.pipeline" in graph["minigptimage.__main__"]  # imported inside the commands


def test_the_model_never_imports_what_judges_or_trains_it():
    graph = imports()
    wrong = {f"{m} -> {', '.join(sorted(d for d in reachable(graph, m) if above(d)))}"
             for m in (f"minigptimage.{name}" for name in MODEL) if any(above(d) for d in reachable(graph, m))}
    assert not wrong, "a model module reaches a module above it:\n" + "\n".join(sorted(wrong))


def test_pipeline_imports_only_the_models_parts():
    allowed = {f"minigptimage.{name}" for name in PIPELINE_PARTS}
    extra = {m for m in imports()["minigptimage.pipeline"] - allowed if ("minigptimage.pipeline", m) not in PENDING}
    assert not extra, f"pipeline.py imports {sorted(extra)}, which are not parts of the model"


def test_no_import_cycle():
    graph = imports()
    cycles = {" -> ".join(sorted({m} | {d for d in reachable(graph, m) if m in reachable(graph, d)}))
              for m in graph if m in reachable(graph, m)}
    assert not cycles, "import cycles:\n" + "\n".join(sorted(cycles))


def test_the_benchmarks_call_library_functions_not_the_command_line():
    graph = imports()
    callers = sorted(m for m, deps in graph.items() if m.startswith("minigptimage.benchmarks")
                     and "minigptimage.__main__" in deps)
    assert not callers, f"{callers} import the command line's main; call the library instead"


def test_pending_exceptions_are_still_needed():
    """An entry of PENDING whose import is gone must be deleted, so the list only ever shrinks."""
    graph = imports()
    stale = [edge for edge in PENDING if edge[1] not in graph[edge[0]]]
    assert not stale, f"delete these from PENDING, their import is gone: {stale}"
