"""The plain-dict files of the stand-alone networks: round trip, and clear errors for bad files."""
import os

import pytest
import torch

from minigptimage.checkpoints import CheckpointError
from minigptimage.reader import GlyphReader, ReaderConfig
from minigptimage.vae import VAE, VAEConfig


@pytest.mark.parametrize("make", [lambda: VAE(VAEConfig.preset("tiny")), lambda: GlyphReader(ReaderConfig())])
def test_save_load_round_trip_and_named_errors(make, tmp_path):
    torch.manual_seed(0)
    module = make()
    type(module).save(module, tmp_path / "m.pt")
    loaded = type(module).load(tmp_path / "m.pt")
    assert loaded.cfg == module.cfg and not loaded.training
    for k, v in module.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    (tmp_path / "noise.pt").write_bytes(os.urandom(300))
    torch.save({"format": 99}, tmp_path / "other.pt")
    for bad in ("noise.pt", "other.pt", "missing.pt"):
        with pytest.raises(CheckpointError, match=bad):
            type(module).load(tmp_path / bad)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left behind by the atomic write


def test_every_run_gets_a_new_folder_and_earlier_ones_are_listed(tmp_path):
    from minigptimage.checkpoints import new_run_folder
    assert new_run_folder(tmp_path / "none") == (tmp_path / "none" / "run_01", [])
    for name in ("run_01", "run_09", "run_10", "run_x1"):
        (tmp_path / name).mkdir()
    (tmp_path / "run_99.txt").write_text("not a run")
    folder, earlier = new_run_folder(tmp_path)
    assert folder == tmp_path / "run_11" and not folder.exists()
    assert [p.name for p in earlier] == ["run_01", "run_09", "run_10"]
