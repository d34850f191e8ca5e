"""Devices and mixed precision (devices.py) on the CPU: ``auto`` picks what exists, a missing device is one clean
line, bf16 autocast trains like fp32 within a stated tolerance, and what it writes is plain fp32. The tests
marked ``gpu`` run the same paths on CUDA and skip without it (``pytest -m gpu``)."""
import pytest
import torch

from minigptimage import devices
from minigptimage.__main__ import main
from minigptimage.devices import autocast, resolve_device, resolve_precision
from minigptimage.glyphs import GlyphDataset
from minigptimage.pipeline import MiniGPTImage
from minigptimage.train import Trainer, TrainConfig
from minigptimage.training_data import rendered_chunks

PROMPT = 'the word "CAT" in red on white, in the center'
gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def fake_gpus(monkeypatch):
    """Pretend this machine has ``n`` CUDA GPUs of compute capability ``cc`` (nothing is run on them)."""
    def fake(n: int, cc=(9, 0)):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: cc)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Fake GPU")
    return fake


def test_auto_is_cuda_then_mps_then_cpu(fake_gpus, monkeypatch):
    monkeypatch.setattr(devices, "mps_available", lambda: False)
    fake_gpus(0)
    assert resolve_device() == torch.device("cpu") and resolve_device("cpu:0") == torch.device("cpu:0")
    monkeypatch.setattr(devices, "mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    fake_gpus(2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda:1")


def test_auto_picks_the_cpu_on_this_machine():
    if torch.cuda.is_available() or devices.mps_available():
        pytest.skip("this machine has an accelerator")
    assert resolve_device("auto").type == "cpu" and resolve_precision("auto", "cpu") == "fp32"


@pytest.mark.parametrize("name, gpus, named", [
    ("cuda", 0, "no CUDA GPU"), ("cuda:0", 0, "no CUDA GPU"), ("cuda:7", 2, "2 CUDA GPU(s): cuda:0 to cuda:1"),
    ("cuda:2", 2, "2 CUDA GPU(s)"), ("banana", 0, "unknown device"), ("meta", 0, "unknown device"),
])
def test_a_missing_device_is_a_one_line_value_error(fake_gpus, name, gpus, named):
    fake_gpus(gpus)
    with pytest.raises(ValueError, match=r"^device: .*") as err:
        resolve_device(name)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_precision_auto_is_bf16_on_ampere_fp16_before_and_fp32_on_the_cpu(fake_gpus):
    fake_gpus(1, cc=(9, 0))
    assert resolve_precision("auto", "cuda") == "bf16" and resolve_precision("fp16", "cuda") == "fp16"
    fake_gpus(1, cc=(7, 5))
    assert resolve_precision("auto", "cuda:0") == "fp16"
    with pytest.raises(ValueError, match="bf16 asked for, but Fake GPU lacks it"):
        resolve_precision("bf16", "cuda")
    assert [resolve_precision(p, "cpu") for p in ("auto", "fp32", "bf16")] == ["fp32", "fp32", "bf16"]
    with pytest.raises(ValueError, match="precision: expected one of"):
        resolve_precision("fp64", "cpu")


def trainer(out, precision, cache=16, device="cpu"):
    """A ``micro`` model from a fixed init on a cached batch stream; the VAE is left at its init (skipped). The
    zero-initialised layers (the U-Net's output, the glyph branch) get small random weights, so the network's
    output — and with it bf16's rounding — reaches the loss from the first step."""
    model = MiniGPTImage.from_preset("micro", seed=0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1 and not p.any():
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    model.to(device)
    t = Trainer(model, TrainConfig(batch_size=8, latent_cache=cache, precision=precision), out, log=lambda m: None)
    t.vae_done = True
    return t


def losses(t, steps=3):
    t.start_diffusion_phase()
    return torch.tensor([t.train_step(total_steps=steps) for _ in range(steps)])


def test_bf16_autocast_training_follows_fp32(tmp_path):
    """Same init, data and noise: bf16 (8-bit mantissa, relative rounding 2⁻⁸ ≈ 0.4% per operation) stays within
    1% of the fp32 loss at every one of 3 steps (measured on this CPU: at most 0.023% over 8 steps, the rounding
    errors of a mean over many values averaging out), and the weights stay fp32."""
    fp32, bf16 = trainer(tmp_path / "a", "fp32"), trainer(tmp_path / "b", "bf16")
    a, b = losses(fp32), losses(bf16)
    assert ((b - a).abs() / a).max() < 0.01, (a, b)
    assert not torch.equal(a, b)  # autocast really ran in 16 bits
    assert all(p.dtype == torch.float32 for p in bf16.model.parameters())


def test_the_latent_cache_lives_on_the_device_and_holds_the_tokens(tmp_path):
    t = trainer(tmp_path, "fp32", cache=6)
    t.start_diffusion_phase()
    batch = t.cache.batch(1, 4)                                 # items 4, 5, 0, 1
    ids, mask = t.model.tokenizer.encode(batch["caption"], t.model.config.max_prompt_len)
    assert torch.equal(batch["ids"], ids) and torch.equal(batch["mask"], mask)
    assert batch["latent"].device == t.model.device


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_a_checkpoint_trained_under_autocast_is_plain_fp32(tmp_path, precision):
    t = trainer(tmp_path, precision, cache=8)
    path = t.run(total_steps=2)
    raw = torch.load(path, weights_only=True)
    tensors = [v for part in raw["weights"].values() for v in part.values() if v.is_floating_point()]
    assert tensors and all(v.dtype == torch.float32 for v in tensors)
    assert bool(raw["train_state"]["scaler"]) == (precision == "fp16")  # the fp16 loss scale is saved
    model = MiniGPTImage.load(path)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    resumed = trainer(tmp_path, precision, cache=8)
    resumed.restore(raw)
    assert resumed.scaler.state_dict() == t.scaler.state_dict()
    images = model.generate([PROMPT], steps=2, seed=0)
    assert images.dtype == torch.float32 and torch.isfinite(images).all()


def test_sampling_in_bf16_is_close_to_fp32_and_each_is_deterministic(micro_run):
    model = MiniGPTImage.load(micro_run[1])
    assert model.precision == "fp32"  # the Python API's default
    fp32 = model.generate([PROMPT, PROMPT], steps=3, seed=5)
    assert torch.equal(fp32, model.generate([PROMPT, PROMPT], steps=3, seed=5))  # same seed, same device
    bf16 = model.generate([PROMPT, PROMPT], steps=3, seed=5, precision="bf16")
    assert bf16.dtype == torch.float32 and torch.equal(bf16, model.generate([PROMPT, PROMPT], steps=3, seed=5,
                                                                              precision="bf16"))
    assert 0 < (bf16 - fp32).abs().mean() < 0.05  # pixels in [-1, 1]
    x_T = torch.randn(model.latent_shape(2), generator=torch.Generator().manual_seed(5))
    assert torch.equal(fp32, model.generate([PROMPT, PROMPT], steps=3, noise=x_T))  # x_T given = x_T drawn
    with pytest.raises(ValueError, match="noise: expected x_T of shape"):
        model.generate([PROMPT], noise=x_T)
    edited = model.edit(fp32[:1], [PROMPT], 0.5, steps=3, precision="bf16")          # SDEdit under autocast
    assert edited.dtype == torch.float32 and (edited - model.edit(fp32[:1], [PROMPT], 0.5, steps=3)).abs().mean() < 0.05
    with autocast("cpu", "bf16"):  # what reaches the schedule's arithmetic is float32
        assert model.vae.encode_latents(fp32).dtype == torch.float32
        assert model.denoise(torch.zeros(1, *model.latent_shape(1)[1:]), torch.tensor([10]),
                             model.null_condition(1)).dtype == torch.float32


# ------------------------------------------------------------- the command line, in-process
def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_says_its_device_once_and_takes_a_precision(micro_run, tmp_path, capsys):
    png = tmp_path / "a.png"
    code, out, err = run(["sample", PROMPT, "--checkpoint", micro_run[1], "--steps", 2, "--out", png,
                          "--precision", "bf16"], capsys)
    assert code == 0, err
    assert out.count("device cpu, precision bf16") == 1 and png.is_file()


@pytest.mark.parametrize("argv, named", [
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--device", "cuda"], "no CUDA GPU"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--device", "cuda:7"], "--device"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--precision", "fp64"], "--precision"),
    (["edit", PROMPT, "--image", "{tmp}/x.png", "--out", "{tmp}/a.png", "--device", "mps"], "--device"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "1", "--device", "cuda:1"], "--device"),
    (["evaluate", "--device", "tpu"], "unknown device"),
    (["demo", "--out", "{tmp}/r", "--device", "cuda"], "--device"),
    (["bench", "--device", "cuda"], "--device"),
])
def test_a_missing_device_is_one_line_and_exit_code_2(tmp_path, capsys, argv, named):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has an accelerator")
    code, out, err = run([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert code == 2 and err.count("\n") == 1 and named in err and "Traceback" not in err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "r").exists()


def test_an_index_beyond_the_gpus_there_are_is_named(fake_gpus, tmp_path, capsys):
    fake_gpus(1)
    code, _, err = run(["sample", PROMPT, "--out", tmp_path / "a.png", "--device", "cuda:7"], capsys)
    assert code == 2 and "--device: 'cuda:7' asked for, but this machine has 1 CUDA GPU(s)" in err


# ------------------------------------------------------------- on a GPU (python -m pytest -m gpu)
@pytest.mark.gpu
@gpu
@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_gpu_training_under_autocast_writes_a_checkpoint_the_cpu_loads(tmp_path, precision):
    t = trainer(tmp_path, precision, cache=64, device="cuda")
    assert t.cache.latents.is_cuda
    path = t.run(total_steps=4)
    cpu = MiniGPTImage.load(path)                                   # map_location="cpu"
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in cpu.parameters())
    assert all(abs(x) < 10 for x in t.losses)


@pytest.mark.gpu
@gpu
def test_worker_processes_render_the_same_items_in_the_same_order():
    """On a GPU the latent cache is rendered by a process pool (train.rendered_chunks); on the 2-core CI machine
    starting it costs ~15 s, so this runs with the GPU tests."""
    dataset = GlyphDataset("train", length=100, seed=0)
    serial, pooled = (list(rendered_chunks(dataset, 10, 5, workers, chunk=4)) for workers in (1, 2))
    assert [len(c["caption"]) for c in pooled] == [4, 4, 2]
    for a, b in zip(serial, pooled):
        assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a)


@pytest.mark.gpu
@gpu
def test_gpu_sampling_is_deterministic_and_close_to_the_cpu(micro_run):
    cpu = MiniGPTImage.load(micro_run[1])
    cuda = MiniGPTImage.load(micro_run[1]).to("cuda")
    auto = resolve_precision("auto", "cuda")
    first = cuda.generate([PROMPT] * 4, steps=5, seed=3, precision=auto)
    assert torch.equal(first, cuda.generate([PROMPT] * 4, steps=5, seed=3, precision=auto))
    fp32 = cuda.generate([PROMPT] * 4, steps=5, seed=3).cpu()
    assert (first.cpu() - fp32).abs().mean() < 0.05
    # a seed draws other noise on a CUDA generator than on the CPU's; from the same x_T the images are close
    x_T = torch.randn(cpu.latent_shape(4), generator=torch.Generator().manual_seed(3))
    on_cpu = cpu.generate([PROMPT] * 4, steps=5, noise=x_T)
    assert (cuda.generate([PROMPT] * 4, steps=5, noise=x_T).cpu() - on_cpu).abs().mean() < 0.02
