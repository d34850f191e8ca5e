"""Checkpoint files that survive a crash and say what is wrong with them.

* ``atomic_write``: write to a temporary file beside the target, fsync, then rename over it — a reader sees the
  old file or the new one, never half of one (a crash mid-write loses nothing). ``atomic_save`` writes a
  checkpoint this way, and ``provenance.write_png`` a PNG.
* ``read_checkpoint``: ``torch.load(..., weights_only=True)`` (tensors, numbers, strings, lists and dicts only: a
  pickle that would run code is refused) with one error, ``CheckpointError``, that names the file.
* ``save_module`` / ``load_module``: the plain-dict format of the small stand-alone networks (``VAE``,
  ``GlyphReader``): a format version, the dataclass config and the state dict.
* ``checkpoint_files`` / ``newest_good_checkpoint``: a training run's folder of ``ckpt_XXXXXXX.pt`` files.
* ``TINY_DATA``: the folder of the shipped files (models, VAE, reader, word lists); ``one_line``: an error's
  message on one line, as every error is quoted. Neither needs torch, which is imported where a file is read.
"""
from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

if TYPE_CHECKING:
    import torch

TINY_DATA = Path(__file__).resolve().parent.parent / "tiny_data"  # the shipped files, beside the package
CHECKPOINT_NAME = re.compile(r"^ckpt_(\d{7,})\.pt$")  # a training run's checkpoint: ckpt_<step>.pt


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, another format version or another config."""


def atomic_write(path, write: Callable[[BinaryIO], None]) -> Path:
    """``write(f)`` into a temporary file in ``path``'s folder, flush and fsync, then rename it over ``path``
    (atomic on POSIX and Windows): a reader sees the old file or the new one, never half of one, and a failed
    write leaves no temporary file behind. The file gets the mode ``open`` would give it (0o666 less the
    umask), not mkstemp's private 0o600. The folder must exist."""
    path = Path(path)
    try:  # the umask, read without changing it (Linux); elsewhere set and restored at once
        with open("/proc/self/status") as status:
            umask = int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    except (OSError, StopIteration, ValueError):
        umask = os.umask(0o022)
        os.umask(umask)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            os.chmod(tmp, 0o666 & ~umask)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_save(obj, path) -> Path:
    """torch.save ``obj`` to ``path`` atomically (``atomic_write``), creating its folder if needed."""
    import torch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda f: torch.save(obj, f))


def one_line(err: BaseException, limit: int = 160) -> str:
    """An exception's message on one line (each run of whitespace one space), cut at ``limit`` characters, or
    its type's name when it has none."""
    text = " ".join(str(err).split())
    return text[:limit] if text else type(err).__name__


def read_checkpoint(path, map_location="cpu") -> dict:
    """torch.load(weights_only=True) with errors that name the file: missing, truncated or corrupt,
    or a pickle that would run code (refused by the weights-only unpickler)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint: no such file {str(path)!r}")
    check_shipped(path)
    import torch
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # the unpickler raises many types; all mean "not a usable checkpoint"
        raise CheckpointError(f"checkpoint {str(path)!r} is truncated, corrupt or unsafe: {one_line(err)}") from None


def save_module(module: torch.nn.Module, path, format: int) -> Path:
    """``{"format", "config" (module.cfg as plain types), "state_dict"}``, written atomically."""
    cfg = {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(module.cfg).items()}
    return atomic_save({"format": format, "config": cfg, "state_dict": module.state_dict()}, path)


def load_module(cls, config_cls, path, format: int, what: str):
    """The module ``cls(config_cls(...))`` saved by ``save_module``, in eval mode; CheckpointError naming the file
    when it is missing, corrupt, of another format or of another config."""
    ckpt = read_checkpoint(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != format or "config" not in ckpt:
        raise CheckpointError(f"path: {path} is not a {what} checkpoint of format {format}")
    try:
        module = cls(config_cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in ckpt["config"].items()}))
        module.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"path: {path} does not fit this version's {what} ({one_line(err)})") from None
    return module.eval()


def checkpoint_files(out_dir) -> list[Path]:
    """The ``ckpt_<step>.pt`` files in a training run's folder ``out_dir``, oldest step first."""
    out_dir = Path(out_dir)
    found = [p for p in out_dir.glob("ckpt_*.pt") if CHECKPOINT_NAME.match(p.name)] if out_dir.is_dir() else []
    return sorted(found, key=lambda p: int(CHECKPOINT_NAME.match(p.name).group(1)))


def new_run_folder(parent) -> tuple[Path, list[Path]]:
    """(``parent/run_NN``, one past the highest NN there, not created; the earlier ``run_NN`` folders): a new
    folder for every run, so that running again never touches an earlier run's checkpoints."""
    parent = Path(parent)
    earlier = sorted(p for p in parent.glob("run_[0-9][0-9]*") if p.name[4:].isdigit()) if parent.is_dir() else []
    return parent / f"run_{1 + max((int(p.name[4:]) for p in earlier), default=0):02d}", earlier


# Training settings that a resumed run may change: they do not change what the run computes.
RESUMABLE_CHANGES = ("precision", "render_workers")
# Settings this version no longer has (commit 6591a2d has min_snr_gamma, 89bfbcd timestep_shift_anneal), or that
# older runs lack (shifted_share since a734b70, shifted_until since e691bd4), at the value that trains as if the
# setting were absent.
REMOVED_SETTINGS = {"min_snr_gamma": 0.0, "timestep_shift_anneal": False, "shifted_share": 0.0, "shifted_until": 1.0}


def check_same_run(saved: dict, now: dict) -> None:
    """A CheckpointError naming each training setting (a ``TrainConfig`` as a dict) that ``now`` changes from the
    ``saved`` run's, but ``RESUMABLE_CHANGES``; a removed setting counts at its neutral value."""
    saved, now = {**REMOVED_SETTINGS, **saved}, {**REMOVED_SETTINGS, **now}
    changed = [f"{k} {saved.get(k)!r} -> {v!r}" for k, v in now.items()
               if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed:
        raise CheckpointError(f"checkpoint: this run changes settings of the run it resumes ({'; '.join(changed)});"
                              " resume with the same settings, or train into a new folder")


def newest_good_checkpoint(out_dir, log=print) -> tuple[Path, dict] | None:
    """The newest checkpoint in ``out_dir`` that loads and holds a training state: (path, dict), or None.
    Corrupt ones are reported through ``log`` by name and skipped."""
    for path in reversed(checkpoint_files(out_dir)):
        try:
            ckpt = read_checkpoint(path)
            if not isinstance(ckpt, dict) or "train_state" not in ckpt:
                raise CheckpointError(f"checkpoint {path}: it has no training state to resume from")
            return path, ckpt
        except CheckpointError as err:
            log(f"skipping {err}")
    return None


@contextmanager
def run_lock(out_dir):
    """Hold ``out_dir/.train.lock`` (created exclusively, holding this process's id) while a training run writes
    into ``out_dir``: a second run into the same folder is refused with a CheckpointError while the first one
    lives. A lock left by a process that no longer exists is taken over. Stale temporary files of ``atomic_write``
    (left by a killed run) are removed once the lock is held."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lock = out_dir / ".train.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            try:
                pid = int(lock.read_text().strip() or 0)
                os.kill(pid, 0)  # signal 0: is it alive?
            except (ValueError, ProcessLookupError, OSError):
                lock.unlink(missing_ok=True)  # its run is gone
                continue
            raise CheckpointError(f"out: another training run (process {pid}) is writing into {out_dir}; wait for "
                                  "it to finish or choose another folder") from None
    else:
        raise CheckpointError(f"out: cannot take the lock {lock}")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        for stale in out_dir.glob(".ckpt_*.tmp"):  # atomic_write's temporaries: .<name>.<random>.tmp
            stale.unlink(missing_ok=True)
        yield
    finally:
        lock.unlink(missing_ok=True)


# ---------------------------------------------------------------- the shipped files are what was shipped
SHIPPED_HASHES = "SHA256SUMS"  # in TINY_DATA: "<sha256>  <path under tiny_data>" per shipped weight file


def sha256(path) -> str:
    import hashlib
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_hashes(folder=None) -> dict[str, str]:
    """{path under the folder: SHA-256} as listed in ``folder/SHA256SUMS`` (default TINY_DATA); {} without one."""
    listing = Path(folder or TINY_DATA) / SHIPPED_HASHES
    if not listing.is_file():
        return {}
    return {name: digest for digest, name in (line.split(None, 1) for line in listing.read_text().splitlines()
                                              if line.strip())}


def check_shipped(path, folder=None) -> None:
    """A weight file inside the shipped folder must have the SHA-256 its listing gives: a CheckpointError names a
    file that was changed or damaged after shipping (a file elsewhere is not checked)."""
    folder = Path(folder or TINY_DATA).resolve()
    path = Path(path).resolve()
    if folder not in path.parents:
        return
    name = path.relative_to(folder).as_posix()
    expected = shipped_hashes(folder).get(name)
    if expected is not None and sha256(path) != expected:
        raise CheckpointError(f"checkpoint: {name} in {folder} is not the shipped file (its SHA-256 differs from "
                              f"{SHIPPED_HASHES}); restore it with git checkout -- tiny_data")


def write_shipped_hashes(folder=None) -> Path:
    """List the SHA-256 of every weight file (``*.pt``) under the shipped folder in its SHA256SUMS; run it after
    every re-ship (``python -m minigptimage.checkpoints``)."""
    folder = Path(folder or TINY_DATA)
    lines = [f"{sha256(p)}  {p.relative_to(folder).as_posix()}" for p in sorted(folder.rglob("*.pt"))]
    return atomic_write(folder / SHIPPED_HASHES, lambda f: f.write(("\n".join(lines) + "\n").encode()))


if __name__ == "__main__":
    print(f"wrote {write_shipped_hashes()}")
