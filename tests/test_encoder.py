"""Prompt encoder: shapes for every modality combination, padding invariance, the null prompt, errors."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.encoder import PromptEncoder, PromptEncoderConfig

CFG = PromptEncoderConfig(dim=32, depth=2, heads=4, max_len=20, image_size=32, patch_size=8)
torch.manual_seed(0)
ENC = PromptEncoder(CFG).eval()


def prompt(B, L, g, lengths=None):
    ids = torch.randint(4, CFG.vocab_size, (B, L), generator=g)
    lengths = torch.randint(1, L + 1, (B,), generator=g) if lengths is None else lengths
    mask = torch.arange(L)[None] < lengths[:, None]  # (B, L) real tokens first
    return ids.masked_fill(~mask, 0), mask


@given(B=st.integers(1, 3), L=st.integers(1, 20), side=st.sampled_from([8, 16, 32]),
       use_image=st.booleans(), use_box=st.booleans(), use_mask=st.booleans(), seed=st.integers(0, 99))
def test_shapes_for_any_modality_combination(B, L, side, use_image, use_box, use_mask, seed):
    g = torch.Generator().manual_seed(seed)
    ids, mask = prompt(B, L, g)
    image = torch.rand(B, 3, side, side, generator=g) * 2 - 1 if use_image else None
    box = torch.rand(B, 4, generator=g) * 32 if use_box else None
    layout_mask = (torch.rand(B, 1, side, side, generator=g) > 0.5).float() if use_mask else None
    context, context_mask = ENC(ids, mask, image=image, box=box, layout_mask=layout_mask)
    n = (side // 8) ** 2
    expected = L + n * use_image + use_box + n * use_mask
    assert context.shape == (B, expected, CFG.dim) and context_mask.shape == (B, expected)
    assert torch.equal(context_mask[:, :L], mask) and context_mask[:, L:].all()
    assert context.isfinite().all()


@given(B=st.integers(1, 3), L=st.integers(1, 12), pad=st.integers(1, 8), seed=st.integers(0, 99))
def test_padding_never_changes_real_outputs(B, L, pad, seed):
    g = torch.Generator().manual_seed(seed)
    ids, mask = prompt(B, L, g)
    image, box = torch.rand(B, 3, 16, 16, generator=g), torch.rand(B, 4, generator=g) * 32
    junk = torch.randint(0, CFG.vocab_size, (B, L + pad), generator=g)
    long_mask = torch.cat([mask, torch.zeros(B, pad, dtype=torch.bool)], dim=1)
    long_ids = torch.where(long_mask, torch.cat([ids, ids[:, :pad].new_zeros(B, pad)], 1), junk)
    short, _ = ENC(ids, mask, image=image, box=box)
    long, long_cmask = ENC(long_ids, long_mask, image=image, box=box)
    torch.testing.assert_close(long[:, :L][mask], short[:, :L][mask], atol=1e-5, rtol=0)  # text tokens
    torch.testing.assert_close(long[:, L + pad:], short[:, L:], atol=1e-5, rtol=0)  # image and box tokens
    assert not long_cmask[:, L:L + pad].any()


def test_text_order_matters_but_batch_items_are_independent():
    g = torch.Generator().manual_seed(1)
    ids, mask = prompt(2, 10, g, lengths=torch.tensor([10, 10]))
    a, _ = ENC(ids, mask)
    b, _ = ENC(ids.flip(1), mask)
    assert not torch.allclose(a, b.flip(1), atol=1e-3)  # positions are encoded
    torch.testing.assert_close(ENC(ids[:1], mask[:1])[0], a[:1], atol=1e-5, rtol=0)


def test_null_context_is_learned_and_pads():
    context, mask = ENC.null_context(3)
    assert context.shape == (3, CFG.null_tokens, CFG.dim) and mask.all()
    context.sum().backward()
    assert ENC.null.grad is not None and ENC.null.grad.abs().sum() > 0
    padded, pmask = ENC.null_context(3, length=7)
    assert padded.shape == (3, 7, CFG.dim) and pmask.sum().item() == 3 * CFG.null_tokens
    torch.testing.assert_close(padded[:, :CFG.null_tokens], context)
    with pytest.raises(ValueError, match="length"):
        ENC.null_context(3, length=1)


def test_every_parameter_gets_a_gradient():
    enc = PromptEncoder(CFG)
    g = torch.Generator().manual_seed(0)
    ids, mask = prompt(2, 6, g)
    context, _ = enc(ids, mask, image=torch.rand(2, 3, 16, 16), box=torch.rand(2, 4) * 32,
                     layout_mask=torch.ones(2, 1, 16, 16))
    (context.square().sum() + enc.null_context(2)[0].sum()).backward()
    missing = [name for name, p in enc.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert missing == []


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_presets_build(preset):
    cfg = PromptEncoderConfig.preset(preset)
    enc = PromptEncoder(cfg)
    ids, mask = torch.full((2, cfg.max_len), 40), torch.ones(2, cfg.max_len, dtype=torch.bool)
    context, _ = enc(ids, mask, image=torch.zeros(2, 3, 64, 64), box=torch.tensor([[0, 0, 32, 32.]] * 2))
    assert context.shape == (2, cfg.max_len + (64 // cfg.patch_size) ** 2 + 1, cfg.dim)


def test_errors_name_the_argument():
    ids, mask = torch.randint(4, 99, (2, 5)), torch.ones(2, 5, dtype=torch.bool)
    cases = [
        (dict(ids=ids, mask=mask[:, :4]), "mask"),
        (dict(ids=ids, mask=mask.long()), "mask"),
        (dict(ids=ids.float(), mask=mask), "ids"),
        (dict(ids=torch.full((2, 5), 99), mask=mask), "vocab_size"),
        (dict(ids=torch.full((2, 21), 5), mask=torch.ones(2, 21, dtype=torch.bool)), "max_len"),
        (dict(ids=ids, mask=mask, image=torch.zeros(2, 1, 16, 16)), "image"),
        (dict(ids=ids, mask=mask, image=torch.zeros(2, 3, 12, 16)), "image"),
        (dict(ids=ids, mask=mask, image=torch.zeros(2, 3, 64, 64)), "image"),
        (dict(ids=ids, mask=mask, box=torch.zeros(2, 3)), "box"),
        (dict(ids=ids, mask=mask, box=torch.zeros(3, 4)), "box"),
        (dict(ids=ids, mask=mask, layout_mask=torch.zeros(2, 1, 10, 16)), "layout_mask"),
        (dict(ids=ids, mask=mask, layout_mask=torch.zeros(2, 16, 16)), "layout_mask"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            ENC(**kwargs)
    text_only = PromptEncoder(PromptEncoderConfig(dim=16, heads=2, use_image_tokens=False, use_layout_tokens=False))
    with pytest.raises(ValueError, match="image"):
        text_only(ids, mask, image=torch.zeros(2, 3, 64, 64))
    with pytest.raises(ValueError, match="preset"):
        PromptEncoderConfig.preset("huge")


def test_image_present_masks_the_image_tokens_of_rows_without_a_reference():
    torch.manual_seed(0)
    enc = PromptEncoder(PromptEncoderConfig(dim=32, depth=1, heads=2)).eval()
    ids, mask = torch.randint(3, 99, (2, 10)), torch.ones(2, 10, dtype=torch.bool)
    image = torch.rand(2, 3, 64, 64) * 2 - 1
    present = torch.tensor([True, False])
    ctx, ctx_mask = enc(ids, mask, image=image, image_present=present)
    alone, _ = enc(ids[1:], mask[1:])  # row 1 encoded without any image
    assert ctx_mask[0].all() and ctx_mask[1, :10].all() and not ctx_mask[1, 10:].any()
    assert torch.allclose(ctx[1, :10], alone[0], atol=1e-5)  # its text never attended to the image
    with pytest.raises(ValueError, match="image_present"):
        enc(ids, mask, image=image, image_present=torch.tensor([1, 0]))


ROTARY = PromptEncoder(PromptEncoderConfig(dim=32, depth=2, heads=4, max_len=20, image_size=32, patch_size=8,
                                           positions="rotary", segments=True, quote_id=6)).eval()


@given(before=st.integers(0, 6), n=st.integers(1, 12), after=st.integers(1, 6))
def test_text_positions_count_the_quoted_span_as_one(before, n, after):
    """Tokens after the quotes sit at the same positions whatever the quoted text's length; the quoted
    tokens keep their order inside one unit."""
    from minigptimage.encoder import quoted_tokens, text_positions
    ids = torch.tensor([[9] * before + [6] + [40] * n + [6] + [9] * after])  # 6 = '"' in CharTokenizer
    quoted = quoted_tokens(ids, quote_id=6)
    assert quoted[0].tolist() == [False] * before + [True] * (n + 2) + [False] * after
    pos = text_positions(quoted)[0]
    assert torch.allclose(pos[before + n + 2:], torch.arange(after) + before + 1.0)
    inside = pos[before:before + n + 2]
    assert (inside.diff() > 0).all() and abs(inside[0] - before) < 1e-5 and inside[-1] < before + 1


@given(B=st.integers(1, 3), L=st.integers(1, 12), pad=st.integers(1, 8), seed=st.integers(0, 99))
def test_rotary_encoder_ignores_padding_and_has_no_length_limit(B, L, pad, seed):
    g = torch.Generator().manual_seed(seed)
    ids, mask = prompt(B, L, g)
    ids[:, 0] = 6  # a quote opens the prompt: the segments are not all zero
    out, _ = ROTARY(ids, mask)
    padded, _ = ROTARY(torch.nn.functional.pad(ids, (0, pad)), torch.nn.functional.pad(mask, (0, pad)))
    assert torch.allclose(out[mask], padded[:, :L][mask], atol=1e-5)
    long_ids = torch.randint(7, CFG.vocab_size, (1, 40), generator=g)  # twice max_len: fine without a table
    assert ROTARY(long_ids, torch.ones_like(long_ids, dtype=torch.bool))[0].shape == (1, 40, 32)
    assert not hasattr(ROTARY, "pos_embed") and hasattr(ENC, "pos_embed")


def test_segment_embedding_marks_the_quoted_tokens():
    """Segment 1 reaches the encoder exactly when the prompt quotes something."""
    quoted, plain = torch.tensor([[1, 40, 6, 40, 6, 2]]), torch.tensor([[1, 40, 41, 40, 42, 2]])
    mask = torch.ones_like(quoted, dtype=torch.bool)
    with torch.no_grad():
        before = [ROTARY(ids, mask)[0] for ids in (quoted, plain)]
        change = torch.randn(32, generator=torch.Generator().manual_seed(0))  # (not constant: LayerNorm removes that)
        ROTARY.segment_embed.weight[1] += change
        after = [ROTARY(ids, mask)[0] for ids in (quoted, plain)]
        ROTARY.segment_embed.weight[1] -= change
    assert not torch.allclose(before[0], after[0], atol=1e-3)  # the quoted prompt uses segment 1
    assert torch.allclose(before[1], after[1])  # a prompt without quotes never does


def test_rotary_encoder_hands_every_block_the_quoted_span_as_one_position():
    """The positions that reach each block's self-attention, worked out by hand for '<bos> x "ab" y <eos>' and a
    box token: outside the quotes one step per token; the four quoted tokens (quotes included) a quarter each;
    the box token at 0 (not rotated)."""
    seen = []
    hooks = [block.register_forward_pre_hook(lambda m, args, kwargs: seen.append(kwargs["positions"]),
                                             with_kwargs=True) for block in ROTARY.blocks]
    ids = torch.tensor([[1, 40, 6, 41, 42, 6, 43, 2]])  # <bos> x " a b " y <eos>, 6 = '"'
    try:
        ROTARY(ids, torch.ones_like(ids, dtype=torch.bool), box=torch.tensor([[8.0, 8, 24, 16]]))
    finally:
        for hook in hooks:
            hook.remove()
    expected = torch.tensor([[0, 1, 2, 2.25, 2.5, 2.75, 3, 4, 0]])
    assert len(seen) == ROTARY.cfg.depth and all(torch.allclose(p, expected) for p in seen)


@given(L=st.integers(3, 12), seed=st.integers(0, 99))
def test_rotary_encoder_sees_the_order_of_the_tokens(L, seed):
    """Without a position table or quotes, only the rotation tells the encoder where a token is: a prompt and its
    reverse (of distinct tokens) give different outputs, where an encoder without positions would give the same
    outputs reversed (self-attention alone is permutation-equivariant)."""
    g = torch.Generator().manual_seed(seed)
    ids = (torch.randperm(90, generator=g)[:L] + 7)[None]  # distinct ids, never '"' (6)
    mask = torch.ones_like(ids, dtype=torch.bool)
    out, _ = ROTARY(ids, mask)
    back, _ = ROTARY(ids.flip(1), mask)
    assert not torch.allclose(back.flip(1), out, atol=1e-3)


def test_box_token_is_the_mlp_of_the_documented_fourier_features():
    """Box (0, 16, 32, 64) at image_size 64 → corners c = (0, 1/4, 1/2, 1) → [sin(2π·2ᵏ·c), cos(2π·2ᵏ·c)], k < F,
    per corner (sines then cosines), worked out with math.sin/cos, before the MLP."""
    import math
    enc = PromptEncoder(PromptEncoderConfig(dim=16, heads=2, image_size=64, fourier_features=3))
    enc.box_mlp = torch.nn.Identity()
    got = enc.box_token(torch.tensor([[0, 16, 32, 64]]))
    expected = [f(2 * math.pi * 2 ** k * c) for c in (0, 0.25, 0.5, 1.0) for f in (math.sin, math.cos)
                for k in range(3)]
    assert got.shape == (1, 1, 24)
    torch.testing.assert_close(got[0, 0], torch.tensor(expected), atol=1e-5, rtol=0)


def test_patch_tokens_are_in_row_major_order_with_row_plus_column_positions():
    """With the patch projection zeroed, token r·(W/p) + c of a (H, W) image is row_embed[r] + col_embed[c];
    with positions zeroed it is the projection of patch (r, c), pixels in unfold's (channel, y, x) order."""
    enc = PromptEncoder(PromptEncoderConfig(dim=8, heads=2, image_size=32, patch_size=8))
    with torch.no_grad():
        enc.row_embed.copy_(torch.arange(4.0)[:, None].expand(4, 8) * 10)  # row r → 10·r
        enc.col_embed.copy_(torch.arange(4.0)[:, None].expand(4, 8))  # column c → c
        enc.image_patch.weight.zero_(), enc.image_patch.bias.zero_()
        tokens = enc.patch_tokens(torch.rand(1, 3, 16, 32), enc.image_patch, "image")  # a 2 × 4 grid of patches
        assert tokens.shape == (1, 8, 8)
        assert tokens[0, :, 0].tolist() == [0, 1, 2, 3, 10, 11, 12, 13]
        enc.row_embed.zero_(), enc.col_embed.zero_()
        enc.image_patch.weight.copy_(torch.eye(8, 3 * 64))  # token channel j = pixel j of the patch
        image = torch.rand(1, 3, 16, 32)
        tokens = enc.patch_tokens(image, enc.image_patch, "image")
    torch.testing.assert_close(tokens[0, 5], image[0, 0, 8, 8:16])  # patch (1, 1): channel 0, its first row


def test_type_embeddings_mark_image_and_layout_tokens():
    """Changing the IMAGE row of the type table changes what an image prompt encodes to and nothing of a
    box-only prompt; the LAYOUT row the other way round."""
    from minigptimage.encoder import IMAGE, LAYOUT
    torch.manual_seed(0)
    enc = PromptEncoder(CFG).eval()
    ids, mask = torch.tensor([[1, 40, 41, 2]]), torch.ones(1, 4, dtype=torch.bool)
    with_image = dict(image=torch.rand(1, 3, 16, 16))
    with_box = dict(box=torch.tensor([[4.0, 4, 20, 12]]), layout_mask=torch.ones(1, 1, 16, 16))
    with torch.no_grad():
        before = [enc(ids, mask, **kw)[0] for kw in (with_image, with_box)]
        change = torch.randn(CFG.dim, generator=torch.Generator().manual_seed(1))
        results = {}
        for row in (IMAGE, LAYOUT):
            enc.type_embed.weight[row] += change
            results[row] = [enc(ids, mask, **kw)[0] for kw in (with_image, with_box)]
            enc.type_embed.weight[row] -= change
    assert not torch.allclose(results[IMAGE][0], before[0], atol=1e-3)
    assert torch.allclose(results[IMAGE][1], before[1], atol=1e-6)
    assert torch.allclose(results[LAYOUT][0], before[0], atol=1e-6)
    assert not torch.allclose(results[LAYOUT][1], before[1], atol=1e-3)
