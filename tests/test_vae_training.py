"""Training the VAE: the ink mask and its weight in the loss, a short overfit, and a new decoder on a frozen
encoder (``train_shipped_vae(encoder_of=...)``)."""
import torch

from minigptimage.glyphs import GlyphDataset, collate
from minigptimage.vae import VAE, VAEConfig
from minigptimage.vae_training import ink_mask, train_shipped_vae, train_vae, vae_loss


def test_overfits_a_small_batch():
    x = collate([GlyphDataset("train", length=4, seed=0)[i] for i in range(4)])["image"]
    vae = VAE(VAEConfig(channels=(16, 32), groups=4), seed=0)  # narrower than "tiny", to stay fast
    before = vae_loss(vae, x, generator=torch.Generator().manual_seed(0))[0].item()
    losses = train_vae(vae, x, steps=60, batch_size=4, lr=3e-3, seed=0, progress=False)
    assert losses[-1] < 0.4 * before  # 0.35 × on these four images (their colour pairs include low contrast)


def test_ink_mask_marks_the_strokes_and_their_edge():
    x = -torch.ones(1, 3, 16, 16)              # a black image ...
    x[:, :, 6:9, 4:12] = 1.0                   # ... with a white bar (rows 6–8, columns 4–11)
    mask = ink_mask(x)
    assert mask.shape == (1, 1, 16, 16)
    assert mask[0, 0, 5:10, 3:13].eq(1).all()  # the bar and one pixel around it
    assert mask.sum() == 5 * 10                # nothing else
    assert mask[0, 0, 0].eq(0).all()


def test_ink_weight_counts_the_text_error_more():
    cfg = VAEConfig(latent_channels=4, channels=(8,), groups=4, kl_weight=0.0, edge_weight=0.0)
    x = -torch.ones(1, 3, 16, 16)
    x[:, :, 6:9, 4:12] = 1.0
    plain, weighted = VAE(cfg, seed=0), VAE(VAEConfig(**{**cfg.__dict__, "ink_weight": 9.0}), seed=0)
    noise = torch.zeros(1, 4, 8, 8)
    x_hat = plain(x, noise=noise)[0]
    error_on_text = ((x_hat - x).pow(2).mean(1, keepdim=True) *
                     ink_mask(x)).sum()
    assert error_on_text > 0
    l_plain, l_weighted = vae_loss(plain, x, noise=noise)[0], vae_loss(weighted, x, noise=noise)[0]
    w = 1 + 9.0 * ink_mask(x)
    expected = (w * (x_hat - x).pow(2)).mean() / w.mean()
    torch.testing.assert_close(l_weighted, expected)
    assert not torch.isclose(l_plain, l_weighted)


def test_a_new_decoder_keeps_the_encoder_and_so_the_latents():
    old = VAE(VAEConfig(latent_channels=4, patch=4, channels=(8,), groups=4, linear_path=True), seed=1)
    new = train_shipped_vae(None, VAEConfig(latent_channels=4, patch=4, channels=(8,), groups=4, linear_path=True,
                                            decoder_mult=2), steps=3, n_images=40, progress=False, encoder_of=old)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    torch.testing.assert_close(new.encode_latents(x), old.encode_latents(x))
    assert new.decoder[0].out_channels == 16
