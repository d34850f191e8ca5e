"""U-Net: shapes, zero initialisation, glyph-branch neutrality, padding, gradients, learning, errors."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.attention import MultiHeadAttention
from minigptimage.unet import UNet, UNetConfig, timestep_embedding

CFG = UNetConfig(context_dim=12, channels=(16, 32), attention_levels=(0, 1), heads=2, time_dim=32, groups=4,
                 glyph_channels=8)


def unzeroed(cfg=CFG, seed=0):
    """A model whose zero-initialised convs (output, glyph projections) are re-drawn at random."""
    torch.manual_seed(seed)
    model = UNet(cfg)
    zero_convs = [model.conv_out] + (list(model.glyph_down) + list(model.glyph_up) if cfg.glyph else [])
    for conv in zero_convs:
        torch.nn.init.normal_(conv.weight, std=0.1)
    return model


def inputs(B, h, w, L, g, cfg=CFG):
    x = torch.randn(B, cfg.in_channels, h, w, generator=g)
    t = torch.randint(0, 1000, (B,), generator=g)
    context = torch.randn(B, L, cfg.context_dim, generator=g)
    mask = torch.ones(B, L, dtype=torch.bool)
    mask[:, L // 2 + 1:] = False
    return x, t, context, mask


@given(B=st.integers(1, 3), h=st.sampled_from([2, 4, 8, 12]), w=st.sampled_from([2, 6, 16]), L=st.integers(1, 9),
       glyph=st.booleans(), seed=st.integers(0, 99))
def test_output_shape_for_any_allowed_size(B, h, w, L, glyph, seed):
    g = torch.Generator().manual_seed(seed)
    model = unzeroed(CFG if glyph else UNetConfig(**{**CFG.__dict__, "glyph": False}))
    canvas = torch.rand(B, 1, 4 * h, 4 * w, generator=g) if glyph else None
    out = model(*inputs(B, h, w, L, g), glyph=canvas)
    assert out.shape == (B, CFG.out_channels, h, w) and out.isfinite().all()


def test_fresh_model_outputs_exactly_zero():
    g = torch.Generator().manual_seed(0)
    out = UNet(CFG)(*inputs(2, 8, 8, 5, g), glyph=torch.rand(2, 1, 32, 32, generator=g))
    assert torch.equal(out, torch.zeros_like(out))


def test_fresh_glyph_branch_is_neutral_then_matters():
    g = torch.Generator().manual_seed(0)
    model, args = unzeroed(), inputs(2, 8, 8, 5, g)
    for conv in list(model.glyph_down) + list(model.glyph_up):
        torch.nn.init.zeros_(conv.weight)  # as freshly built: only the output conv is random
    canvas = torch.rand(2, 1, 32, 32, generator=g)
    without = model(*args)
    assert without.abs().sum() > 0
    assert torch.equal(without, model(*args, glyph=canvas))
    assert torch.equal(without, model(*args, glyph=torch.zeros_like(canvas)))  # None means a blank canvas
    assert not torch.allclose(unzeroed()(*args), unzeroed()(*args, glyph=canvas))  # a trained branch is used


def test_glyph_reaches_full_latent_resolution():
    """Through the last glyph projection alone (added just before the output conv), changing one 4×4 canvas
    cell changes the output around that cell's latent pixel: letter shapes can reach the output undiluted."""
    g = torch.Generator().manual_seed(1)
    model, args = unzeroed(), inputs(1, 8, 8, 3, g)
    for conv in list(model.glyph_down) + list(model.glyph_up)[1:]:
        torch.nn.init.zeros_(conv.weight)
    canvas = torch.zeros(1, 1, 32, 32)
    base = model(*args, glyph=canvas)
    canvas[..., 12:16, 20:24] = 1.0  # latent pixel (3, 5)
    change = (model(*args, glyph=canvas) - base).abs().sum(1)[0]  # (h, w)
    near = change[1:6, 3:8].sum()  # the 5×5 receptive field (glyph conv 3×3, then output conv 3×3)
    assert near > 0.9 * change.sum()  # only GroupNorm's statistics carry the change further


def test_padded_context_tokens_do_not_change_output():
    g = torch.Generator().manual_seed(2)
    model = unzeroed()
    x, t, context, mask = inputs(2, 8, 8, 6, g)
    junk = torch.where(mask[..., None], context, 100 * torch.randn(context.shape, generator=g))
    torch.testing.assert_close(model(x, t, context, mask), model(x, t, junk, mask), atol=1e-5, rtol=0)
    assert not torch.allclose(model(x, t, context, mask), model(x, t, junk, torch.ones_like(mask)), atol=1e-3)


def test_timestep_forms_and_embedding():
    emb = timestep_embedding(torch.arange(1000), 32)  # (T, 32)
    assert torch.cdist(emb, emb).add(torch.eye(1000) * 9).min() > 1e-3  # every step distinct
    g = torch.Generator().manual_seed(3)
    model = unzeroed()
    x, _, context, mask = inputs(2, 4, 4, 3, g)
    ref = model(x, torch.tensor([7, 7]), context, mask)
    torch.testing.assert_close(model(x, 7, context, mask), ref)
    torch.testing.assert_close(model(x, torch.tensor(7), context, mask), ref)
    assert not torch.allclose(model(x, 8, context, mask), ref)


def test_fast_attention_matches_reference_in_unet():
    g = torch.Generator().manual_seed(4)
    model, args = unzeroed().double(), inputs(2, 4, 4, 5, g)
    args = [a.double() if a.is_floating_point() else a for a in args]
    fast = model(*args)
    for m in model.modules():
        if isinstance(m, MultiHeadAttention):
            m.fast = False
    torch.testing.assert_close(fast, model(*args), atol=1e-9, rtol=0)


def test_every_parameter_receives_a_gradient():
    g = torch.Generator().manual_seed(5)
    model = unzeroed()
    model(*inputs(2, 8, 8, 4, g), glyph=torch.rand(2, 1, 32, 32, generator=g)).square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


def test_fits_one_batch():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(6)
    model = UNet(CFG)
    x, t, context, mask = inputs(8, 8, 8, 5, g)
    canvas, target = torch.rand(8, 1, 32, 32, generator=g), torch.randn(8, 4, 8, 8, generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = (model(x, t, context, mask, glyph=canvas) - target).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_presets_build_and_step(name):
    cfg = UNetConfig.preset(name)
    torch.manual_seed(0)
    model = UNet(cfg)
    g = torch.Generator().manual_seed(7)
    x, t, context, mask = inputs(2, 16, 16, 10, g, cfg)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = (model(x, t, context, mask, glyph=torch.rand(2, 1, 64, 64, generator=g)) - x).square().mean()
    loss.backward()
    opt.step()
    assert model.conv_out.weight.abs().sum() > 0  # the step moved the zero-initialised output conv


def test_errors_name_the_argument():
    model, g = UNet(CFG), torch.Generator().manual_seed(8)
    x, t, context, mask = inputs(2, 8, 8, 4, g)
    cases = [
        ((x[:, :3], t, context, mask), {}, "x"),
        ((x[..., :7], t, context, mask), {}, "divisible"),
        ((x, t, context[..., :5], mask), {}, "context"),
        ((x, t, context[:1], mask), {}, "context"),
        ((x, t, context, mask[:, :3]), {}, "context_mask"),
        ((x, t, context, mask.float()), {}, "context_mask"),
        ((x, t[:1], context, mask), {}, "t"),
        ((x, t, context, mask), {"glyph": torch.zeros(2, 1, 8, 8)}, "glyph"),
    ]
    for args, kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            model(*args, **kwargs)
    with pytest.raises(ValueError, match="glyph"):
        UNet(UNetConfig(**{**CFG.__dict__, "glyph": False}))(x, t, context, mask, glyph=torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="preset"):
        UNetConfig.preset("huge")


def test_film_is_the_identity_at_zero_and_scales_by_one_plus_gamma():
    """AdaGN (Dhariwal & Nichol sec. 3): h·(1 + γ(t)) + β(t) after the second GroupNorm; γ = β = 0 leaves h."""
    import torch.nn.functional as F
    from minigptimage.unet import ResBlock
    torch.manual_seed(0)
    block = ResBlock(8, 16, time_dim=12, groups=4)
    x, temb = torch.randn(2, 8, 6, 6), torch.randn(2, 12)

    def by_hand(gamma, beta):
        h = block.norm2(block.conv1(F.silu(block.norm1(x))))
        return block.conv2(F.silu(h * (1 + gamma) + beta)) + block.skip(x)

    with torch.no_grad():
        gamma, beta = block.film(F.silu(temb))[:, :, None, None].chunk(2, dim=1)
        torch.testing.assert_close(block(x, temb), by_hand(gamma, beta))
        torch.nn.init.zeros_(block.film.weight)
        torch.nn.init.zeros_(block.film.bias)
        torch.testing.assert_close(block(x, temb), by_hand(0.0, 0.0))


def test_timestep_embedding_is_cosines_then_sines_at_geometric_frequencies():
    """[cos(t·ωᵢ), sin(t·ωᵢ)], ωᵢ = 10000^(−i/(dim/2)), i = 0 … dim/2 − 1 (Vaswani et al. sec. 3.5)."""
    import numpy as np
    t, dim = torch.tensor([0, 1, 17, 999]), 16
    omega = 10000.0 ** (-np.arange(dim // 2) / (dim // 2))
    angles = t.numpy()[:, None].astype(np.float64) * omega[None]
    expected = torch.from_numpy(np.concatenate([np.cos(angles), np.sin(angles)], axis=1)).float()
    torch.testing.assert_close(timestep_embedding(t, dim), expected, rtol=0, atol=5e-4)
