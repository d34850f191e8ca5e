"""The shipped weights are what was shipped: tiny_data/SHA256SUMS lists every weight file, and loading a
changed one is refused."""
import shutil

import pytest

from minigptimage import checkpoints
from minigptimage.checkpoints import CheckpointError, TINY_DATA, read_checkpoint, sha256, shipped_hashes


def test_the_listing_names_every_shipped_weight_file_with_its_hash():
    listed = shipped_hashes()
    on_disk = {p.relative_to(TINY_DATA).as_posix(): p for p in TINY_DATA.rglob("*.pt")}
    assert set(listed) == set(on_disk), "run python -m minigptimage.checkpoints after a re-ship"
    assert all(sha256(p) == listed[name] for name, p in on_disk.items())


def test_a_changed_shipped_file_is_refused_by_name(tmp_path):
    shutil.copy(TINY_DATA / "vae.pt", tmp_path / "vae.pt")
    checkpoints.write_shipped_hashes(tmp_path)
    checkpoints.check_shipped(tmp_path / "vae.pt", tmp_path)  # unchanged: passes
    data = bytearray((tmp_path / "vae.pt").read_bytes())
    data[-100] ^= 1
    (tmp_path / "vae.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="vae.pt .* is not the shipped file"):
        checkpoints.check_shipped(tmp_path / "vae.pt", tmp_path)
    checkpoints.check_shipped(tmp_path / "vae.pt", tmp_path / "elsewhere")  # outside the folder: not checked


def test_loading_checks_the_shipped_folder(monkeypatch, tmp_path):
    shutil.copy(TINY_DATA / "vae.pt", tmp_path / "vae.pt")
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  vae.pt\n")
    monkeypatch.setattr(checkpoints, "TINY_DATA", tmp_path)
    with pytest.raises(CheckpointError, match="is not the shipped file"):
        read_checkpoint(tmp_path / "vae.pt")
