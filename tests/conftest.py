"""Shared test settings: a hypothesis profile ``ci`` with few examples and no deadline (the suite must
finish in minutes on a 2-core CPU; ``HYPOTHESIS_PROFILE=dev`` runs many random ones instead), lessons in their
fast mode, and torch on one thread."""
import os

import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=8, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# HYPOTHESIS_PROFILE=dev: random (not derandomised) and many more examples, to hunt for new failures by hand
settings.register_profile(
    "dev", max_examples=200, deadline=None, derandomize=False, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
os.environ.setdefault("MINIGPTIMAGE_FAST", "1")
torch.set_num_threads(1)  # tiny tensors: one thread is as fast, and never oversubscribes


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory):
    """A ``micro`` model trained for a few steps by the real Trainer: (trainer, checkpoint path)."""
    from minigptimage.pipeline import MiniGPTImage
    from minigptimage.train import Trainer, TrainConfig
    out = tmp_path_factory.mktemp("micro_run")
    model = MiniGPTImage.from_preset("micro")
    trainer = Trainer(model, TrainConfig(batch_size=4, vae_steps=2, vae_batch_size=4), out, log=lambda m: None)
    path = trainer.run(total_steps=3)
    return trainer, path


@pytest.hookimpl(trylast=True)  # after -k / -m have deselected: only the selected lessons start
def pytest_collection_modifyitems(session, config, items):
    """Start the selected lessons' fast runs in the background now (tests/lesson_runs.py): they take one core
    while the rest of the suite runs on the other."""
    from lesson_runs import LESSONS, start
    # the lessons' checks last but the multi-process tests, so the other tests run while the lessons do
    order = {"test_lessons.py": 1, "test_notebooks.py": 1, "test_distributed.py": 2}
    items.sort(key=lambda item: order.get(item.path.name, 0))
    names = {item.callspec.params["lesson"].stem for item in items
             if item.originalname == "test_lesson_runs_fast_and_writes_figures"}
    if any(item.originalname.startswith("test_lesson08") for item in items):
        names |= {p.stem for p in LESSONS if p.name.startswith("08_")}
    start(names)
