"""Attention: the from-scratch formula against torch's fused op, permutation equivariance, padding."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.attention import (MultiHeadAttention, TransformerBlock, attention_weights, record_attention,
                                    scaled_dot_product_attention)


def random_mask(B, L, g, allow_empty=True):
    mask = torch.rand(B, L, generator=g) < 0.6
    if not allow_empty:
        mask[:, 0] = True
    return mask


@given(B=st.integers(1, 3), heads=st.integers(1, 4), Lq=st.integers(1, 7), Lk=st.integers(1, 7), seed=st.integers(0, 99))
def test_matches_torch_sdpa_with_masks(B, heads, Lq, Lk, seed):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(B, heads, L, 8, generator=g, dtype=torch.float64) for L in (Lq, Lk, Lk))
    mask = random_mask(B, Lk, g)  # some rows may have no real key at all
    ours = scaled_dot_product_attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v),
                               atol=1e-6, rtol=0)


def test_query_without_real_keys_gives_zeros_and_finite_gradients():
    q, k, v = (torch.randn(2, 2, 3, 4, dtype=torch.float64, requires_grad=True) for _ in range(3))
    mask = torch.tensor([[True, False, True], [False, False, False]])
    out = scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(out[1], torch.zeros_like(out[1]))
    out.sum().backward()
    assert all(x.grad.isfinite().all() for x in (q, k, v))
    assert torch.equal(q.grad[1], torch.zeros_like(q.grad[1]))
    w = attention_weights(q, k, mask)
    torch.testing.assert_close(w[0].sum(-1), torch.ones(2, 3, dtype=torch.float64))


@given(B=st.integers(1, 3), heads=st.sampled_from([1, 2, 4]), L=st.integers(1, 9), Lc=st.integers(1, 9),
       seed=st.integers(0, 99))
def test_fast_path_equals_from_scratch(B, heads, L, Lc, seed):
    torch.manual_seed(seed)  # parameter init only
    g = torch.Generator().manual_seed(seed)
    attn = MultiHeadAttention(16, heads, context_dim=12).double()
    x, ctx = torch.randn(B, L, 16, generator=g, dtype=torch.float64), torch.randn(B, Lc, 12, generator=g, dtype=torch.float64)
    mask = random_mask(B, Lc, g)
    fast = attn(x, ctx, mask)
    attn.fast = False
    torch.testing.assert_close(fast, attn(x, ctx, mask), atol=1e-6, rtol=0)


@given(B=st.integers(1, 3), L=st.integers(2, 10), seed=st.integers(0, 99))
def test_self_attention_is_permutation_equivariant(B, L, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    block = TransformerBlock(16, 4).double()
    x = torch.randn(B, L, 16, generator=g, dtype=torch.float64)
    perm = torch.randperm(L, generator=g)
    torch.testing.assert_close(block(x)[:, perm], block(x[:, perm]), atol=1e-10, rtol=0)


@given(B=st.integers(1, 3), L=st.integers(1, 6), pad=st.integers(1, 5), seed=st.integers(0, 99))
def test_padded_keys_never_change_real_outputs(B, L, pad, seed):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    attn = MultiHeadAttention(8, 2, context_dim=6).double()
    x = torch.randn(B, 5, 8, generator=g, dtype=torch.float64)
    ctx = torch.randn(B, L, 6, generator=g, dtype=torch.float64)
    junk_a, junk_b = (torch.randn(B, pad, 6, generator=g, dtype=torch.float64) * s for s in (1, 100))
    mask = torch.cat([torch.ones(B, L, dtype=torch.bool), torch.zeros(B, pad, dtype=torch.bool)], dim=1)
    for fast in (True, False):
        attn.fast = fast
        a = attn(x, torch.cat([ctx, junk_a], 1), mask)
        b = attn(x, torch.cat([ctx, junk_b], 1), mask)
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
        torch.testing.assert_close(a, attn(x, ctx), atol=1e-12, rtol=0)  # same as no padding at all


def test_heads_must_divide_dim():
    with pytest.raises(ValueError, match="heads"):
        MultiHeadAttention(10, 3)


def test_record_attention_returns_the_maps_the_block_used():
    torch.manual_seed(0)
    block = TransformerBlock(8, 2, context_dim=6)
    x, ctx = torch.randn(2, 5, 8), torch.randn(2, 3, 6)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    with record_attention(block) as maps:
        block(x, context=ctx, context_mask=mask)
    assert set(maps) == {"self_attn", "cross_attn"}
    cross = maps["cross_attn"]  # (B, N, Lq, Lk)
    assert cross.shape == (2, 2, 5, 3) and cross[~mask[:, None, None, :].expand_as(cross)].abs().max() == 0
    _, _, v = block.cross_attn.qkv(block.norm2(x + block.self_attn(block.norm1(x))), ctx)
    out = block.cross_attn.to_out((cross @ v).transpose(1, 2).flatten(2))
    torch.testing.assert_close(out, block.cross_attn(block.norm2(x + block.self_attn(block.norm1(x))), ctx, mask))
    block(x, context=ctx, context_mask=mask)
    assert len(block.cross_attn._forward_hooks) == 0  # hooks removed on exit


@given(B=st.integers(1, 2), heads=st.integers(1, 3), L=st.integers(1, 8), shift=st.floats(-50, 50),
       seed=st.integers(0, 99))
def test_rotary_scores_depend_only_on_relative_positions(B, heads, L, shift, seed):
    """RoFormer eq. 34: rotating q_m and k_n by m·θ and n·θ leaves q·k a function of m − n, so moving every
    position by the same amount changes no score."""
    from minigptimage.attention import rotary
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, B, heads, L, 8, generator=g, dtype=torch.float64)
    pos = torch.rand(B, L, generator=g, dtype=torch.float64) * 20
    scores = rotary(q, pos) @ rotary(k, pos).transpose(-2, -1)
    moved = rotary(q, pos + shift) @ rotary(k, pos + shift).transpose(-2, -1)
    assert torch.allclose(scores, moved, atol=1e-8)


def test_rotary_is_a_rotation_of_each_channel_pair():
    """Reference: pair (x_2i, x_2i+1) as the complex number x_2i + i·x_2i+1, multiplied by e^(i·m·θ_i)."""
    from minigptimage.attention import rotary
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 5, 8, generator=g, dtype=torch.float64)
    pos = torch.tensor([[0.0, 1, 2, 3.5, 7], [4, 0, 1, 1, 2]], dtype=torch.float64)
    theta = 10000.0 ** (-torch.arange(0, 8, 2, dtype=torch.float64) / 8)  # (4,)
    z = torch.complex(x[..., 0::2], x[..., 1::2]) * torch.polar(torch.ones((), dtype=torch.float64), pos[:, None, :, None] * theta)
    expected = torch.stack([z.real, z.imag], dim=-1).flatten(-2)
    out = rotary(x, pos)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1))  # lengths are kept
    assert torch.equal(rotary(x, torch.zeros(2, 5))[..., :], x)  # position 0 is the identity


def complex_rotary(x, pos):
    """RoFormer eq. 34 by complex numbers: channel pair (x_2i, x_2i+1) → (x_2i + i·x_2i+1)·e^(i·m·θ_i)."""
    d = x.shape[-1]
    theta = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # (d/2,)
    z = torch.complex(x[..., 0::2], x[..., 1::2]) * torch.polar(torch.ones((), dtype=torch.float64),
                                                                pos[:, None, :, None] * theta)
    return torch.stack([z.real, z.imag], dim=-1).flatten(-2)


@given(B=st.integers(1, 2), heads=st.sampled_from([1, 2, 4]), L=st.integers(2, 8), shift=st.floats(-30, 30),
       seed=st.integers(0, 99))
def test_rotary_self_attention_rotates_q_and_k_and_sees_only_relative_positions(B, heads, L, shift, seed):
    """The module's rotary wiring against a reference built by hand: q and k projected, each rotated by its
    position (complex numbers), softmax(q·kᵀ/√d)·v, heads merged, output layer. Moving every position by the
    same amount changes no score (q and k turn together); rotating only q, or neither, fails one of these."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    attn = MultiHeadAttention(16, heads).double()
    x = torch.randn(B, L, 16, generator=g, dtype=torch.float64)
    pos = torch.rand(B, L, generator=g, dtype=torch.float64) * 10
    q, k, v = (attn.split_heads(proj(x)) for proj in (attn.to_q, attn.to_k, attn.to_v))  # (B, N, L, d)
    q, k = complex_rotary(q, pos), complex_rotary(k, pos)
    weights = (q @ k.transpose(-2, -1) / (16 // heads) ** 0.5).softmax(-1)  # (B, N, L, L)
    expected = attn.to_out((weights @ v).transpose(1, 2).flatten(2))  # (B, L, 16)
    torch.testing.assert_close(attn.weights(x, positions=pos), weights, atol=1e-10, rtol=0)
    torch.testing.assert_close(attn.weights(x, positions=pos + shift), weights, atol=1e-8, rtol=0)
    for fast in (True, False):
        attn.fast = fast
        torch.testing.assert_close(attn(x, positions=pos), expected, atol=1e-8, rtol=0)
        torch.testing.assert_close(attn(x, positions=pos + shift), expected, atol=1e-8, rtol=0)


def test_rotary_positions_change_the_scores_and_only_through_their_differences():
    """Two tokens with the same content at positions (0, 3): their scores differ from those at (0, 0) (no
    rotation), and equal those at (5, 8) — the same distance. A q-only rotation would score (5, 8) like a
    rotation of q alone by 5 and 8, which is not the same."""
    torch.manual_seed(0)
    attn = MultiHeadAttention(8, 1).double()
    x = torch.randn(1, 1, 8, dtype=torch.float64).expand(1, 2, 8)  # two identical tokens
    at = {p: attn.weights(x, positions=torch.tensor([p], dtype=torch.float64)) for p in ((0, 3), (0, 0), (5, 8))}
    assert torch.allclose(at[(0, 0)], torch.full((1, 1, 2, 2), 0.5, dtype=torch.float64))  # same tokens, same place
    assert not torch.allclose(at[(0, 3)], at[(0, 0)], atol=1e-3)
    torch.testing.assert_close(at[(5, 8)], at[(0, 3)], atol=1e-10, rtol=0)
    assert torch.equal(attn.weights(x), at[(0, 0)])  # positions=None is position 0 everywhere


@given(L=st.integers(2, 8), shift=st.floats(-20, 20), seed=st.integers(0, 99))
def test_transformer_block_passes_its_positions_to_self_attention(L, shift, seed):
    """A block with rotary positions: no longer permutation-equivariant (the positions stay put while the tokens
    move), unchanged when every position moves by the same amount, and different from the block without
    positions; cross-attention gets no positions (its keys are another sequence)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    block = TransformerBlock(16, 4, context_dim=8).double()
    x, ctx = torch.randn(1, L, 16, generator=g, dtype=torch.float64), torch.randn(1, 3, 8, generator=g, dtype=torch.float64)
    pos = torch.arange(L, dtype=torch.float64)[None] * 1.5
    out = block(x, context=ctx, positions=pos)
    torch.testing.assert_close(block(x, context=ctx, positions=pos + shift), out, atol=1e-8, rtol=0)
    assert not torch.allclose(block(x, context=ctx), out, atol=1e-4)
    flip = torch.arange(L - 1, -1, -1)
    assert not torch.allclose(block(x[:, flip], context=ctx, positions=pos)[:, flip], out, atol=1e-4)
    with record_attention(block) as maps:
        block(x, context=ctx, positions=pos)
    h = block.norm2(x + block.self_attn(block.norm1(x), positions=pos))
    torch.testing.assert_close(maps["cross_attn"], block.cross_attn.weights(h, ctx), atol=1e-10, rtol=0)


def test_transformer_block_is_the_documented_pre_norm_sum():
    """x + SelfAttention(LN₁(x)), then + CrossAttention(LN₂(·), context), then + MLP(LN₃(·)), written out by hand.
    The three norms get different random affine weights first (at init they are all the identity map, so a block
    using the wrong one would pass)."""
    torch.manual_seed(0)
    block = TransformerBlock(16, 4, context_dim=8).double()
    with torch.no_grad():
        for norm in (block.norm1, block.norm2, block.norm3):
            norm.weight.copy_(torch.rand(16, dtype=torch.float64) + 0.5)
            norm.bias.copy_(torch.randn(16, dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    x, ctx = torch.randn(2, 5, 16, generator=g, dtype=torch.float64), torch.randn(2, 3, 8, generator=g, dtype=torch.float64)
    mask, pos = torch.tensor([[True, True, False], [True, False, False]]), torch.arange(5.0)[None].expand(2, 5)
    h = x + block.self_attn(block.norm1(x), positions=pos)
    h = h + block.cross_attn(block.norm2(h), ctx, key_padding_mask=mask)
    expected = h + block.mlp(block.norm3(h))
    torch.testing.assert_close(block(x, context=ctx, context_mask=mask, positions=pos), expected, atol=1e-12, rtol=0)
