"""Shared test settings: a hypothesis profile with few examples and no deadline (the suite must
finish in minutes on a 2-core CPU), lessons in their fast mode, and torch on a small thread budget."""
import os

import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=8, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
os.environ.setdefault("MINIGPTIMAGE_FAST", "1")
torch.set_num_threads(min(2, os.cpu_count() or 1))
