"""Training on several processes (DistributedDataParallel over gloo, as torchrun runs it on the CPU) takes the
same step as one process on the concatenated batch, a SIGKILLed run resumes to bit-identical weights, and so
does a 2-process run, each process with its own random state."""
import shutil
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from minigptimage.__main__ import main
from minigptimage.pipeline import MiniGPTImage
from minigptimage.checkpoints import checkpoint_files as checkpoints
from minigptimage.objective import draw_randomness
from minigptimage.launch import train_run
from minigptimage.train import Trainer, TrainConfig
from minigptimage.training_data import data_batch

ROOT = Path(__file__).resolve().parent.parent
B = 2  # per process


def make_trainer(out, rank=0, world=1, batch_size=B):
    torch.manual_seed(0)
    model = MiniGPTImage.from_preset("micro")
    trainer = Trainer(model, TrainConfig(batch_size=batch_size, vae_steps=0), out, log=lambda m: None,
                      rank=rank, world=world)
    trainer.vae_done = True  # an untrained VAE with scale factor 1 is enough to compare two ways of stepping
    return trainer


def all_draws(model):
    shape = model.latent_shape(1)[1:]
    gen = torch.Generator().manual_seed(5)
    return [draw_randomness(B, shape, model.schedule.num_steps, 0.5, gen) for _ in range(2)]


def worker(rank, out, port):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    trainer = make_trainer(out, rank=rank, world=2)
    trainer.start_diffusion_phase()
    trainer.train_step(total_steps=10, draws=all_draws(trainer.model)[rank])
    if rank == 0:
        torch.save({k: v.clone() for k, v in trainer.model.unet.state_dict().items()}, Path(out) / "ddp.pt")
    dist.destroy_process_group()


def free_port() -> int:
    """A TCP port the OS says is free now (bind to port 0), instead of a guess that another run may hold."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_step_equals_one_process_step_on_the_concatenated_batch(tmp_path):
    port = free_port()
    mp.spawn(worker, args=(str(tmp_path), port), nprocs=2, join=True)
    single = make_trainer(tmp_path, batch_size=2 * B)
    single.start_diffusion_phase()
    d0, d1 = all_draws(single.model)
    # rank r's batch is data items [r·B, r·B + B): together, the first 2B items
    assert data_batch(single.dataset, 0, 2 * B)["caption"] == (data_batch(single.dataset, 0, B, 0, 2)["caption"]
                                                                + data_batch(single.dataset, 0, B, 1, 2)["caption"])
    single.train_step(total_steps=10, draws={k: torch.cat([d0[k], d1[k]]) for k in d0})
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    worst = max((single.model.unet.state_dict()[k] - v).abs().max().item() for k, v in ddp.items())
    assert worst < 1e-6


def train_cli(out, *extra):
    """The command line's train on ``micro`` with a given (untrained) VAE, so the run is its diffusion steps."""
    vae = Path(out).parent / "micro_vae.pt"
    if not vae.is_file():
        MiniGPTImage.from_preset("micro").vae.save(vae)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return ([sys.executable, "-m", "minigptimage", "train", "--preset", "micro", "--out", str(out),
             "--steps", "8", "--batch-size", "2", "--vae", str(vae), "--save-every", "2", *extra], env)


# The run to be killed: the real command line, except that step 5 blocks, so the process is certainly still
# running, past its step-4 checkpoint and before its step-6 one, when the test sends SIGKILL (no timing race).
BLOCK_AT_STEP_5 = """
import sys, time
from minigptimage import train
from minigptimage.__main__ import main
train_step = train.Trainer.train_step
def blocking_step(self, *args, **kwargs):
    if self.step == 5:
        time.sleep(600)
    return train_step(self, *args, **kwargs)
train.Trainer.train_step = blocking_step
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_then_resume_gives_the_same_final_weights(tmp_path, capsys):
    """Only the killed run is a real process; the straight run (beside it) and the resume go through the
    command line in this process (one thread, as the killed run's OMP_NUM_THREADS=1)."""
    cmd, env = train_cli(tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-c", BLOCK_AT_STEP_5, *cmd[3:]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert main(train_cli(tmp_path / "straight")[0][3:]) == 0
        deadline = time.monotonic() + 600
        while not (tmp_path / "killed" / "ckpt_0000004.pt").is_file():  # written atomically: whole when seen
            assert time.monotonic() < deadline and proc.poll() is None, "no step-4 checkpoint before the run ended"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    saved = [int(p.stem.split("_")[1]) for p in checkpoints(tmp_path / "killed")]
    assert saved == [2, 4]  # the kill landed mid-run
    capsys.readouterr()
    assert main(train_cli(tmp_path / "killed", "--resume")[0][3:]) == 0
    assert "at step 4" in capsys.readouterr().out  # really started from the saved step
    a = torch.load(tmp_path / "straight" / "ckpt_0000008.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "ckpt_0000008.pt", weights_only=True)
    for part in ("encoder", "unet", "vae"):
        assert all(torch.equal(a["weights"][part][k], b["weights"][part][k]) for k in a["weights"][part]), part
    assert a["train_state"]["losses"] == b["train_state"]["losses"]


def torchrun_worker(rank, out, port, resume):
    """One process of ``torchrun --nproc-per-node 2 -m minigptimage train --preset micro --steps 6``, as the
    command sets it up (``train_run``), with an untrained VAE given so that there is no VAE phase."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE="2")
    torch.set_num_threads(1)
    train_run("micro", out, steps=6, save_every=2, resume=resume, vae=MiniGPTImage.from_preset("micro").vae,
              log=lambda *a: None, batch_size=2, cond_dropout=0.5)


def test_a_two_process_run_resumes_to_the_same_final_weights(tmp_path):
    """Every rank draws its own t, ε and dropout from its own generator: a resumed run must restore each one.
    The run is cut after its step-4 checkpoint (all a killed run leaves: see the SIGKILL test above)."""
    mp.spawn(torchrun_worker, args=(str(tmp_path / "straight"), free_port(), False), nprocs=2, join=True)
    (tmp_path / "cut").mkdir()
    shutil.copy(tmp_path / "straight" / "ckpt_0000004.pt", tmp_path / "cut")
    states = torch.load(tmp_path / "cut" / "ckpt_0000004.pt", weights_only=True)["train_state"]["generators"]
    assert len(states) == 2 and not torch.equal(states[0], states[1])  # two ranks, two random streams
    mp.spawn(torchrun_worker, args=(str(tmp_path / "cut"), free_port(), True), nprocs=2, join=True)
    a = torch.load(tmp_path / "straight" / "ckpt_0000006.pt", weights_only=True)
    b = torch.load(tmp_path / "cut" / "ckpt_0000006.pt", weights_only=True)
    for part in ("encoder", "unet"):
        assert all(torch.equal(a["weights"][part][k], b["weights"][part][k]) for k in a["weights"][part]), part
        raw_a, raw_b = a["train_state"]["raw"][part], b["train_state"]["raw"][part]
        assert all(torch.equal(raw_a[k], raw_b[k]) for k in raw_a), f"raw {part}"
    assert a["train_state"]["losses"] == b["train_state"]["losses"]
