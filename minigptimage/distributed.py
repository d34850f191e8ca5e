"""Data-parallel training under ``torchrun``: joining the process group, wrapping the loss for
DistributedDataParallel (Li et al. 2020, arXiv 2006.15704), and the few values the processes must agree on.

Every process holds a whole model and reads its own part of each step's data (``training_data.data_batch``);
DDP averages the gradients in ``backward``, so W processes of batch B take the step that one process would
take on the concatenated batch of W·B. Without torchrun (WORLD_SIZE unset) all of this is a no-op.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


def setup_distributed(device: str) -> tuple[int, int, str]:
    """Under ``torchrun`` (WORLD_SIZE > 1): join the process group — NCCL on GPUs, gloo on the CPU — and
    return (rank, world size, this process's device). Without torchrun: (0, 1, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    on_gpu = device.startswith("cuda")
    if on_gpu:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if on_gpu else "gloo")
    return dist.get_rank(), world, device


class LossModule(torch.nn.Module):
    """``loss_fn(model, *args)`` behind one ``forward`` call, so that DistributedDataParallel (which hooks
    ``forward``) can average the gradients of ``model``'s parameters across processes."""

    def __init__(self, loss_fn, model: torch.nn.Module):
        super().__init__()
        self.loss_fn, self.model = loss_fn, model

    def forward(self, *args, **kwargs) -> torch.Tensor:
        return self.loss_fn(self.model, *args, **kwargs)


def data_parallel(module: torch.nn.Module, world: int) -> torch.nn.Module:
    """``module`` wrapped in DDP when there are several processes (which also broadcasts rank 0's weights)."""
    if world > 1 and not isinstance(module, DistributedDataParallel):
        return DistributedDataParallel(module, find_unused_parameters=True)
    return module


def agree(value: int, world: int, device) -> int:
    """Rank 0's ``value`` on every process (e.g. the step a timed run stops at)."""
    if world == 1:
        return value
    agreed = torch.tensor([value], device=device)  # NCCL needs a tensor on the GPU
    dist.broadcast(agreed, src=0)
    return int(agreed)


def gather_states(state: torch.Tensor, world: int) -> list[torch.Tensor]:
    """Every process's ``state`` (a CPU tensor, e.g. a generator's), in rank order, on every process."""
    if world == 1:
        return [state]
    states = [None] * world
    dist.all_gather_object(states, state)
    return states
