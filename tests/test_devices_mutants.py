"""devices.py's rules one by one, with no GPU and without importing the trainer (so the mutation run can use this
file alone): the order of ``auto``, where a CUDA GPU starts to have bf16 (compute capability 8.0, Ampere), that
``auto`` precision is 16-bit only on CUDA, which 16-bit format ``autocast`` turns on, and that only fp16 scales
the loss."""
import pytest
import torch

from minigptimage import devices
from minigptimage.devices import autocast, describe, grad_scaler, resolve_device, resolve_precision


@pytest.fixture
def gpus(monkeypatch):
    """Pretend this machine has ``n`` CUDA GPUs of compute capability ``cc`` and MPS or not (nothing runs on them)."""
    def fake(n: int, cc=(9, 0), mps=False):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: cc)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
        monkeypatch.setattr(devices, "mps_available", lambda: mps)
    return fake


@pytest.mark.parametrize("n, mps, expected", [(0, False, "cpu"), (0, True, "mps"), (1, False, "cuda"),
                                              (1, True, "cuda")])
def test_auto_prefers_cuda_then_mps_then_the_cpu(gpus, n, mps, expected):
    gpus(n, mps=mps)
    assert resolve_device("auto") == torch.device(expected) == resolve_device()


def test_named_devices_must_exist(gpus):
    gpus(2)
    assert resolve_device("cuda:1") == torch.device("cuda:1") and resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="cuda:0 to cuda:1"):
        resolve_device("cuda:2")  # indices start at 0: two GPUs are 0 and 1
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")
    gpus(0, mps=True)
    assert resolve_device("mps") == torch.device("mps")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.parametrize("cc, auto", [((7, 0), "fp16"), ((7, 5), "fp16"), ((8, 0), "bf16"), ((8, 6), "bf16"),
                                      ((9, 0), "bf16")])
def test_bf16_starts_at_compute_capability_8_ampere(gpus, cc, auto):
    gpus(1, cc=cc)
    assert resolve_precision("auto", "cuda") == auto
    if auto == "bf16":
        assert resolve_precision("bf16", "cuda:0") == "bf16"
    else:
        with pytest.raises(ValueError, match="bf16 asked for, but Fake GPU lacks it"):
            resolve_precision("bf16", "cuda")


def test_auto_precision_is_fp32_off_cuda_and_explicit_choices_come_back(gpus):
    gpus(0, mps=True)
    assert resolve_precision("auto", "cpu") == "fp32" and resolve_precision("auto", "mps") == "fp32"
    assert [resolve_precision(p, "cpu") for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]
    for bad in ("fp64", "FP16", "half"):
        with pytest.raises(ValueError, match="precision: expected one of auto, fp32, bf16, fp16"):
            resolve_precision(bad, "cpu")


@pytest.mark.parametrize("precision, dtype", [("bf16", torch.bfloat16), ("fp16", torch.float16)])
def test_autocast_runs_matrix_products_in_the_named_format(precision, dtype):
    a = torch.randn(4, 4)
    with autocast("cpu", precision):
        assert torch.is_autocast_enabled("cpu") and (a @ a).dtype == dtype
    assert not torch.is_autocast_enabled("cpu")


def test_fp32_autocast_changes_nothing():
    a = torch.randn(4, 4)
    with autocast("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu") and (a @ a).dtype == torch.float32


@pytest.mark.parametrize("precision, scales", [("fp16", True), ("bf16", False), ("fp32", False)])
def test_only_fp16_scales_the_loss(precision, scales):
    assert grad_scaler("cpu", precision).is_enabled() == scales


def test_describe_names_the_device_the_gpu_and_the_precision(gpus):
    assert describe(torch.device("cpu"), "fp32") == "device cpu, precision fp32"
    gpus(1)
    assert describe(torch.device("cuda:0"), "bf16") == "device cuda:0 (Fake GPU), precision bf16"
