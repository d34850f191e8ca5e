"""Where the networks run, and in which number format: device auto-selection and mixed precision.

Devices: ``"auto"`` picks CUDA, then Apple's MPS, then the CPU; ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` name one.

Mixed precision (Micikevicius et al. 2018, arXiv 1710.03740): the weights, the optimiser's state and every
checkpoint stay in float32; inside ``torch.autocast`` the matrix products and convolutions run in a 16-bit
format, and the element-wise arithmetic (the noise schedule's √ᾱ_t·z₀ + √(1−ᾱ_t)·ε, the samplers' steps) is not
autocast, so it stays in float32 (the schedule's tables themselves are float32/float64, see ``schedule.py``).
    bf16: 8 exponent bits like float32 (same range, 8 bits of mantissa): no loss scaling needed.
    fp16: 5 exponent bits: gradients below ~6e-8 flush to zero, so the loss is multiplied by a scale S before
          ``backward`` and the gradients divided by S before the step (``torch.amp.GradScaler``; a step whose
          gradients overflowed is skipped and S halved — their sec. 3.2).
``"auto"`` is bf16 on a CUDA GPU that has it (Ampere and later), fp16 on older ones, fp32 on the CPU and MPS.
"""
from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def mps_available() -> bool:
    return hasattr(torch.backends, "mps") and torch.backends.mps.is_available()


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA, else MPS, else CPU; a named device must exist here, else a one-line ValueError."""
    name = str(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device: unknown device {name!r}; expected auto, cpu, cuda, cuda:N or mps")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"device: {name!r} asked for, but this machine has no CUDA GPU")
        if device.index is not None and device.index >= count:
            raise ValueError(f"device: {name!r} asked for, but this machine has {count} CUDA GPU(s): "
                             f"cuda:0 to cuda:{count - 1}")
    if device.type == "mps" and not mps_available():
        raise ValueError(f"device: {name!r} asked for, but Apple's MPS is not available here")
    return device


def resolve_precision(precision: str, device) -> str:
    """``"auto"`` → "bf16" on a CUDA GPU with bfloat16, "fp16" on one without, "fp32" elsewhere; an explicit
    "fp32" | "bf16" | "fp16" comes back as given (bf16 on a CUDA GPU without it is refused)."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    bf16_ok = device.type != "cuda" or torch.cuda.get_device_capability(device)[0] >= 8  # Ampere (sm_80) on
    if precision == "auto":
        return ("bf16" if bf16_ok else "fp16") if device.type == "cuda" else "fp32"
    if precision == "bf16" and not bf16_ok:
        raise ValueError(f"precision: bf16 asked for, but {torch.cuda.get_device_name(device)} lacks it; use fp16")
    return precision


def autocast(device, precision: str):
    """``torch.autocast`` in the 16-bit format ``precision`` names; a no-op context for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=DTYPES[precision])


def grad_scaler(device, precision: str) -> torch.amp.GradScaler:
    """Loss scaling for fp16 (see the module docstring); a pass-through scaler for bf16 and fp32."""
    return torch.amp.GradScaler(torch.device(device).type, enabled=precision == "fp16")


def describe(device: torch.device, precision: str) -> str:
    """One line for the command line: the device (and GPU name) and the precision."""
    name = f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""
    return f"device {device}{name}, precision {precision}"
