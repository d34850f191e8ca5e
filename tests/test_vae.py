"""The tiny VAE: shapes, the KL and reparameterisation against their formulas, the scale factor, and the
shipped tiny_data/vae.pt on held-out renders (PSNR and legibility)."""
import subprocess
import sys

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.glyphs import HIGH_CONTRAST_PAIRS, GlyphDataset, collate
from minigptimage.reader import GlyphReader
from minigptimage.scoring import word_accuracy
from minigptimage.vae import PRETRAINED, VAE, VAEConfig, psnr

# Measured on these 64 held-out renders (seed 7) when tiny_data/vae.pt was made by train_shipped_vae():
# PSNR 31.3 dB, reader 63/64 (on 1000 held-out renders: 31.3 dB, 97.8%), read by the shipped tiny-wide reader
# (the first shipped reader: also 63/64, and 97.2%). The asserts leave a margin
# (1 dB, 4 words) for platform differences in float arithmetic.
SHIPPED_PSNR = 31.3
SHIPPED_READ = 63 / 64


@pytest.fixture(scope="module")
def tiny():
    return VAE(VAEConfig.preset("tiny"), seed=0)


@given(batch=st.integers(1, 3), side=st.sampled_from([16, 32, 64, 96]), channels=st.sampled_from([4, 8]))
def test_shapes(batch, side, channels):
    cfg = VAEConfig(latent_channels=channels, channels=(8, 16), groups=4)
    vae = VAE(cfg, seed=0)
    x = torch.rand(batch, 3, side, side) * 2 - 1
    mean, logvar = vae.encode(x)
    f = cfg.downsample
    assert f == 4 and mean.shape == logvar.shape == (batch, channels, side // f, side // f)
    assert vae.decode(mean).shape == x.shape
    assert vae.encode_latents(x).shape == mean.shape and vae.decode_latents(mean).shape == x.shape


def test_bad_shapes_raise(tiny):
    with pytest.raises(ValueError, match="x:"):
        tiny.encode(torch.zeros(1, 3, 30, 30))
    with pytest.raises(ValueError, match="z:"):
        tiny.decode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="name"):
        VAEConfig.preset("huge")


@given(st.integers(0, 2**31 - 1))
def test_kl_is_nonnegative_and_zero_only_at_the_prior(seed):
    g = torch.Generator().manual_seed(seed)
    mean, logvar = torch.randn(3, 4, 2, 2, generator=g), torch.randn(3, 4, 2, 2, generator=g)
    kl = VAE.kl(mean, logvar)
    assert kl.shape == (3,) and (kl > 0).all()
    assert (VAE.kl(torch.zeros(2, 4, 2, 2), torch.zeros(2, 4, 2, 2)) == 0).all()
    # reference: KL of two diagonal Gaussians from torch.distributions
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    torch.testing.assert_close(kl, torch.distributions.kl_divergence(q, p).flatten(1).sum(1))


def test_reparameterize_uses_the_given_noise_and_generator():
    mean, logvar, noise = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    assert torch.equal(VAE.reparameterize(mean, logvar, noise=noise), mean + (0.5 * logvar).exp() * noise)
    a = VAE.reparameterize(mean, logvar, generator=torch.Generator().manual_seed(1))
    b = VAE.reparameterize(mean, logvar, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_fit_scale_factor_gives_unit_std(tiny):
    x = torch.rand(16, 3, 32, 32) * 2 - 1
    s = tiny.fit_scale_factor(x)
    assert s == pytest.approx(1 / tiny.encode(x)[0].std().item(), rel=1e-4)
    assert tiny.encode_latents(x).std().item() == pytest.approx(1.0, rel=1e-3)
    z = tiny.encode_latents(x)
    torch.testing.assert_close(tiny.decode_latents(z), tiny.decode(z / s))


def test_init_from_pca_reconstructs_like_pca():
    """Reference: PCA of the 4×4 patches by SVD; a fresh VAE (conv branches start at zero) decodes its
    encoding exactly to the rank-C PCA reconstruction, and its latents are whitened."""
    x = collate([GlyphDataset("train", length=32, seed=2)[i] for i in range(32)])["image"]
    vae = VAE(VAEConfig.preset("tiny"), seed=0)
    kept = vae.init_from_pca(x)
    C = vae.cfg.latent_channels
    patches = torch.nn.functional.pixel_unshuffle(x.double(), 4).permute(0, 2, 3, 1).reshape(-1, 48)
    centred = patches - patches.mean(0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    pca = centred @ v[:C].T @ v[:C] + patches.mean(0)  # (N, 48)
    pca = torch.nn.functional.pixel_shuffle(pca.reshape(32, 16, 16, 48).permute(0, 3, 1, 2), 4).float()
    with torch.no_grad():
        mean, _ = vae.encode(x)
        torch.testing.assert_close(vae.decode(mean), pca, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(mean.transpose(0, 1).flatten(1).std(1), torch.ones(C), atol=1e-2, rtol=0)
    torch.testing.assert_close(kept.double(), s[:C] ** 2 / (s ** 2).sum(), atol=1e-5, rtol=1e-4)


def test_save_load_roundtrip(tmp_path, tiny):
    tiny.scale_factor.fill_(0.7)
    tiny.save(tmp_path / "v.pt")
    loaded = VAE.load(tmp_path / "v.pt")
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(loaded.encode_latents(x), tiny.eval().encode_latents(x))
    torch.save({"format": 99}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="path"):
        VAE.load(tmp_path / "bad.pt")


def test_shipped_checkpoint_is_plain_and_reconstructs_heldout_words():
    # a bare torch.load in a process that never imported minigptimage
    code = f"import torch; d = torch.load({str(PRETRAINED)!r}, weights_only=True); print(d['format'])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "1"
    vae = VAE.pretrained()
    # the data it was measured on: the colour pairs of contrast ≥ 3.5 it was trained on
    batch = collate([GlyphDataset("heldout", length=64, seed=7, text_kind="upper", lengths=(2, 6),
                                  color_pairs=HIGH_CONTRAST_PAIRS)[i] for i in range(64)])
    with torch.no_grad():
        rec = vae.decode_latents(vae.encode_latents(batch["image"])).clamp(-1, 1)
    assert psnr(rec, batch["image"]).mean() > SHIPPED_PSNR - 1.0
    assert word_accuracy(GlyphReader.pretrained().read(rec), batch["text"]) >= SHIPPED_READ - 0.06


@given(name=st.sampled_from(["tiny", "tiny-decoder", "tiny-12ch", "tiny-32px"]), batch=st.integers(1, 2),
       side=st.sampled_from([32, 64]))
def test_compared_latents_have_their_shapes(name, batch, side):
    """Every latent of the comparison (lesson 07): 16×16×8, 16×16×8 with a wider decoder, 16×16×12, 32×32×4
    at 64 px — the grid is side / patch and the channels are the config's."""
    cfg = VAEConfig.preset(name)
    vae = VAE(cfg, seed=0)
    x = torch.rand(batch, 3, side, side) * 2 - 1
    mean, _ = vae.encode(x)
    assert mean.shape == (batch, cfg.latent_channels, side // cfg.patch, side // cfg.patch)
    assert vae.decode(mean).shape == x.shape
