"""Inpainting (RePaint) and SDEdit: kept pixels exact, the known latent noised to t_prev at every step,
all-zero / all-one masks and strengths 0 / 1 against their closed forms, determinism, clear errors."""
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fixtures_model import untrained_micro
from minigptimage import editing
from minigptimage.editing import latent_mask, mask_box, region_psnr, repaint, sdedit
from minigptimage.gaussian_mixture import GaussianMixture
from minigptimage.glyphs import GlyphDataset, collate
from minigptimage.samplers import DDIMSampler, DDPMSampler, sample_loop
from minigptimage.schedule import NoiseSchedule

PROMPTS = ['the word "SUN" in red on white', '"HAT" in blue letters on yellow, at the top']
STEPS = 4


@pytest.fixture(scope="module")
def model():
    return untrained_micro()


@pytest.fixture(scope="module")
def batch():
    """Two held-out dataset images and their word masks (1 = the word's box)."""
    b = collate([GlyphDataset("heldout", length=8, seed=5)[i] for i in (0, 1)])
    return b["image"], b["mask"]


def keep(masks, images):
    return ~masks.bool().expand_as(images)  # True where the pixel must come back unchanged


def test_unmasked_pixels_come_back_exactly_and_the_mask_is_repainted(model, batch):
    images, masks = batch
    out = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=1)
    assert out.shape == images.shape and out.min() >= -1 and out.max() <= 1
    assert torch.equal(out[keep(masks, images)], images[keep(masks, images)])  # PSNR outside the mask = inf
    assert not torch.equal(out[~keep(masks, images)], images[~keep(masks, images)])


@pytest.mark.parametrize("resample", [1, 2])
def test_known_latent_is_noised_to_t_prev_at_every_step(model, batch, resample):
    """RePaint eq. (8): after the step t -> t_prev the kept cells hold √ᾱ_{t_prev}·z₀ + √(1−ᾱ_{t_prev})·ε
    (z₀ after the last step), not the same at t. The ε are redrawn here in the documented order."""
    images, masks = batch
    seed = 7
    _, traj = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=seed, resample=resample,
                      return_trajectory=True)
    z0, m, xs = traj["z0"], traj["latent_mask"].bool(), traj["x_t"]
    known = ~m.expand_as(z0)
    g = torch.Generator().manual_seed(seed)
    assert torch.equal(xs[0], torch.randn(z0.shape, generator=g))  # ε first, as generate's x_T
    step_ratio = model.config.num_steps // STEPS
    for i, t in enumerate(traj["timesteps"].tolist()):
        t_prev = t - step_ratio
        for u in range(resample if t_prev >= 0 else 1):
            if u > 0:
                torch.randn(z0.shape, generator=g)  # the re-noising draw
            eps = torch.randn(z0.shape, generator=g)  # the known region's
        if t_prev < 0:
            assert torch.equal(xs[i + 1][known], z0[known])  # the last step lands on z₀ itself
            continue
        expected = model.schedule.q_sample(z0, t_prev, noise=eps)
        torch.testing.assert_close(xs[i + 1][known], expected[known])
        off_by_one = model.schedule.q_sample(z0, t, noise=eps)  # the bug: noised to the step's input level
        assert not torch.allclose(xs[i + 1][known], off_by_one[known], atol=1e-4)


def test_resampling_changes_only_the_repainted_region(model, batch):
    images, masks = batch
    once = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=2, resample=1)
    twice = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=2, resample=2)
    assert torch.equal(twice[keep(masks, images)], images[keep(masks, images)])
    assert not torch.equal(once, twice)


def test_all_zero_mask_returns_the_input_and_all_one_mask_is_generate(model, batch):
    images, masks = batch
    assert torch.equal(model.inpaint(images, torch.zeros_like(masks), PROMPTS, steps=STEPS), images)
    generated = model.generate(PROMPTS, steps=STEPS, seed=3)
    assert torch.equal(model.inpaint(images, torch.ones_like(masks, dtype=torch.bool), PROMPTS,
                               steps=STEPS, seed=3), generated)


def test_inpaint_is_deterministic_per_seed(model, batch):
    images, masks = batch
    a = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=4, guidance=1.0)
    b = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=4, guidance=1.0)
    c = model.inpaint(images, masks, PROMPTS, steps=STEPS, seed=5, guidance=1.0)
    assert torch.equal(a, b) and not torch.equal(a, c)


@given(st.integers(0, 63), st.integers(0, 63))
def test_latent_mask_marks_exactly_the_cell_of_a_pixel(y, x):
    mask = torch.zeros(1, 1, 64, 64)
    mask[0, 0, y, x] = 1
    side = 16
    f = 64 // side
    expected = torch.zeros(1, 1, side, side)
    expected[0, 0, y // f, x // f] = 1  # the one latent cell whose f×f pixels include (y, x)
    assert torch.equal(latent_mask(mask, side), expected)


@given(seed=st.integers(0, 999), noise=st.floats(0.01, 0.5))
def test_region_psnr_sees_only_its_region(seed, noise):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    region = (torch.rand(2, 1, 8, 8, generator=g) > 0.5).float()
    region[:, :, 0, 0] = 1  # never empty
    b = a + noise * (1 - region)  # changed only outside the region
    assert region_psnr(b, a, region).isinf().all()
    c = a + noise * region  # every pixel of the region off by `noise`: MSE = noise²
    assert torch.allclose(region_psnr(c, a, region), torch.full((2,), 10 * math.log10(4 / noise ** 2),
                                                                dtype=torch.float64), atol=1e-6)


def test_mask_box_is_the_bounding_box():
    mask = torch.zeros(1, 64, 64)
    mask[:, 10:20, 5:40] = 1
    mask[:, 30, 50] = 1
    assert mask_box(mask) == (5, 10, 51, 31)
    assert mask_box(torch.zeros(1, 64, 64)) is None and mask_box(torch.ones(1, 64, 64)) is None


@given(st.integers(0, 2**31 - 1), st.sampled_from(["rectangle", "pixels"]))
def test_random_masks_keep_every_unmasked_pixel(model, batch, seed, kind):
    images = batch[0][:1]
    g = torch.Generator().manual_seed(seed)
    if kind == "pixels":
        masks = torch.rand(1, 1, 64, 64, generator=g) < 0.3
    else:
        y0, x0 = torch.randint(0, 63, (2,), generator=g).tolist()
        y1, x1 = y0 + 1 + torch.randint(0, 64 - y0, (1,), generator=g).item(), x0 + 1 + torch.randint(
            0, 64 - x0, (1,), generator=g).item()
        masks = torch.zeros(1, 1, 64, 64)
        masks[..., y0:y1, x0:x1] = 1
    out = model.inpaint(images, masks, PROMPTS[:1], steps=2, seed=seed % 100, guidance=1.0)
    assert torch.equal(out[keep(masks, images)], images[keep(masks, images)])
    assert out.min() >= -1 and out.max() <= 1


# ---------------------------------------------------------------- SDEdit
def test_edit_strength_zero_is_the_vae_round_trip_and_one_is_generate(model, batch):
    images, _ = batch
    with torch.no_grad():
        round_trip = model.decode(model.vae.encode_latents(images))
    assert torch.equal(model.edit(images, PROMPTS, 0.0, steps=STEPS), round_trip)
    assert torch.equal(model.edit(images, PROMPTS, 1.0, steps=STEPS, seed=6),
                       model.generate(PROMPTS, steps=STEPS, seed=6))


@pytest.mark.parametrize("strength", [0.1, 0.5, 0.74])
def test_edit_runs_the_last_steps_from_the_noised_latent(model, batch, strength):
    """SDEdit: k = ⌈strength·steps⌉ DDIM steps from q_sample(z₀, t₀, ε), ε the seeded generator's first draw."""
    images, _ = batch
    _, traj = model.edit(images, PROMPTS, strength, steps=STEPS, seed=8, return_trajectory=True)
    k = math.ceil(strength * STEPS)
    full = model.make_sampler("ddim", STEPS, 0.0).timesteps
    assert torch.equal(traj["timesteps"], full[STEPS - k:])
    eps = torch.randn(model.latent_shape(2), generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        z0 = model.vae.encode_latents(images)
    torch.testing.assert_close(traj["x_t"][0], model.schedule.q_sample(z0, int(full[STEPS - k]), noise=eps))


def test_edit_is_deterministic_and_the_prompt_matters(model, batch):
    images, _ = batch
    a = model.edit(images, PROMPTS, 0.6, steps=STEPS, seed=1)
    assert torch.equal(a, model.edit(images, PROMPTS, 0.6, steps=STEPS, seed=1))
    assert not torch.equal(a, model.edit(images, PROMPTS[::-1], 0.6, steps=STEPS, seed=1))


# ---------------------------------------------------------------- errors
GOOD_MASK = torch.zeros(2, 1, 64, 64)
BAD_MASKS = {
    "no channel axis": torch.zeros(2, 64, 64),
    "three channels": torch.zeros(2, 3, 64, 64),
    "wrong size": torch.zeros(2, 1, 32, 32),
    "wrong batch": torch.zeros(1, 1, 64, 64),
    "uint8 0/255": torch.full((2, 1, 64, 64), 255, dtype=torch.uint8),
    "soft values": torch.full((2, 1, 64, 64), 0.5),
    "values 0/2": torch.full((2, 1, 64, 64), 2.0),
    "NaN": torch.full((2, 1, 64, 64), float("nan")),
    "a list": [[0.0]],
}


@pytest.mark.parametrize("name", list(BAD_MASKS))
def test_bad_masks_are_rejected(model, batch, name):
    with pytest.raises(ValueError, match="masks"):
        model.inpaint(batch[0], BAD_MASKS[name], PROMPTS, steps=2)


BAD_IMAGES = {
    "wrong size": torch.zeros(2, 3, 32, 32),
    "grey": torch.zeros(2, 1, 64, 64),
    "no batch axis": torch.zeros(3, 64, 64),
    "values in [0, 255]": torch.full((2, 3, 64, 64), 200.0),
    "NaN": torch.full((2, 3, 64, 64), float("nan")),
    "uint8": torch.zeros(2, 3, 64, 64, dtype=torch.uint8),
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_bad_images_are_rejected(model, name):
    with pytest.raises(ValueError, match="images"):
        model.inpaint(BAD_IMAGES[name], GOOD_MASK, PROMPTS, steps=2)
    with pytest.raises(ValueError, match="images"):
        model.edit(BAD_IMAGES[name], PROMPTS, 0.5, steps=2)


@pytest.mark.parametrize("strength", [-0.1, 1.5, float("nan"), True, "0.5", None])
def test_bad_strength_is_rejected(model, batch, strength):
    with pytest.raises(ValueError, match="strength"):
        model.edit(batch[0], PROMPTS, strength, steps=2)


def test_other_bad_arguments_are_rejected(model, batch):
    images, masks = batch
    with pytest.raises(ValueError, match="prompts"):
        model.inpaint(images, masks, PROMPTS[:1], steps=2)
    with pytest.raises(ValueError, match="prompts"):
        model.edit(images, PROMPTS * 2, 0.5, steps=2)
    with pytest.raises(ValueError, match="boxes"):
        model.inpaint(images, masks, PROMPTS, steps=2, boxes=[(0, 0, 8, 8)])
    with pytest.raises(ValueError, match="resample"):
        model.inpaint(images, masks, PROMPTS, steps=2, resample=0)
    with pytest.raises(ValueError, match="steps"):
        model.edit(images, PROMPTS, 0.5, steps=0)


# ---------------------------------------------------------------- properties of the wiring
def record_denoiser_calls(model, monkeypatch):
    """Wrap the real U-Net call: record (x_t, t, cond) of every call, pass the call through."""
    calls, real = [], model.denoise

    def recorded(x_t, t, cond):
        calls.append((x_t.clone(), int(t[0]), cond))
        return real(x_t, t, cond)

    monkeypatch.setattr(model, "denoise", recorded)
    return calls


def test_resampling_renoises_the_kept_latent_to_q_of_x_t(model, batch, monkeypatch):
    """RePaint sec. 4.2: x_t = √(ᾱ_t/ᾱ_{t_prev})·x_{t_prev} + √(1 − ᾱ_t/ᾱ_{t_prev})·ε. Where the image is kept,
    x_{t_prev} ~ q(x_{t_prev} | z₀), so the re-noised x_t there is a sample of q(x_t | z₀) = N(√ᾱ_t·z₀, 1 − ᾱ_t):
    the residual (x_t − √ᾱ_t·z₀)/√(1 − ᾱ_t) has mean 0 and variance 1 (without the square roots it has not)."""
    images, masks = batch
    calls = record_denoiser_calls(model, monkeypatch)
    _, traj = model.inpaint(images, masks, PROMPTS, steps=12, seed=3, resample=2, guidance=1.0,
                      return_trajectory=True)
    z0, known = traj["z0"], ~traj["latent_mask"].bool().expand_as(traj["z0"])
    ab = model.schedule.alphas_cumprod
    seen = set()
    renoised = 0
    for x_t, t, _ in calls:
        if t not in seen:  # the first call at t is the step's own input; the second one is re-noised
            seen.add(t)
            continue
        residual = ((x_t.double() - ab[t].sqrt() * z0) / (1 - ab[t]).sqrt())[known]
        n = residual.numel()
        assert abs(float(residual.mean())) < 5 / n ** 0.5, (t, float(residual.mean()))
        assert abs(float(residual.var()) - 1) < 5 * (2 / n) ** 0.5, (t, float(residual.var()))
        renoised += 1
    assert renoised == 11  # every step but the last one is redone once


def test_the_glyph_canvas_is_drawn_at_the_masks_box(model, batch, monkeypatch):
    """Without ``boxes``, inpainting draws each prompt's word into the bounding box of its mask (the
    planned box of generate would put it elsewhere)."""
    from minigptimage import layout
    images, masks = batch
    calls = record_denoiser_calls(model, monkeypatch)
    model.inpaint(images, masks, PROMPTS, steps=1, seed=0, guidance=1.0)
    canvas = calls[0][2]["glyph"]
    for i, (prompt, word) in enumerate(zip(PROMPTS, ("SUN", "HAT"))):
        box = mask_box(masks[i])
        assert torch.equal(canvas[i], layout.render_canvas(word, box, 64)), i
        ys, xs = torch.nonzero(canvas[i, 0] > 0, as_tuple=True)
        assert xs.min() >= box[0] and ys.min() >= box[1] and xs.max() < box[2] and ys.max() < box[3]
        assert not torch.equal(canvas[i], layout.canvas_for_prompts([prompt], 64)[0])  # not the planned place


def test_an_inpainted_word_goes_in_one_box_the_callers(model, batch, monkeypatch):
    """The glyph canvas and the encoder's box token get the same box: the caller's where given, else the mask's
    bounding box (never the planned place)."""
    from minigptimage import layout
    images, masks = batch
    asked = [None, (6, 20, 58, 44)]  # prompt 0: the mask's box; prompt 1: the caller's box, not the mask's
    tokens, box_token = [], model.encoder.box_token
    monkeypatch.setattr(model.encoder, "box_token", lambda box: tokens.append(box.clone()) or box_token(box))
    calls = record_denoiser_calls(model, monkeypatch)
    model.inpaint(images, masks, PROMPTS, steps=1, seed=0, guidance=1.0, boxes=asked)
    (token,), canvas = tokens, calls[0][2]["glyph"]  # (B, 4) pixels, (B, 1, H, W)
    assert asked[1] != mask_box(masks[1])  # so that the caller's box and the mask's are told apart
    for i, (box, word) in enumerate(zip([mask_box(masks[0]), asked[1]], ("SUN", "HAT"))):
        assert box != layout.plan_box(PROMPTS[i], 64)  # and either from the planned place
        assert tuple(token[i].tolist()) == box, i
        assert torch.equal(canvas[i], layout.render_canvas(word, box, 64)), i


def test_region_psnr_of_an_empty_region_is_nan():
    a = torch.zeros(2, 3, 8, 8)
    region = torch.zeros(2, 1, 8, 8)
    region[1, :, :4] = 1
    psnr = region_psnr(a + 0.1, a, region)
    assert torch.isnan(psnr[0])  # nothing to compare: not a number, not a perfect score
    assert psnr[1] == pytest.approx(10 * math.log10(4 / 0.01))


# ---------------------------------------------------------------- the loops take a denoiser; every option is used
TOY = NoiseSchedule.cosine(100)
GAUSS = GaussianMixture([[1.0, -1.0]], [0.5])


def toy_denoiser(x_t, t, cond):
    return GAUSS.optimal_eps(x_t, t, TOY)


def test_the_loops_run_on_any_denoiser_and_reduce_to_sample_loop():
    """repaint with nothing to keep, and sdedit at strength 1, are the plain sampling loop from the same x_T."""
    x_T, z0 = (torch.randn(6, 2, generator=torch.Generator().manual_seed(k), dtype=torch.float64) for k in (0, 1))
    for sampler in (DDIMSampler(TOY, 10), DDPMSampler(TOY)):
        expected = sample_loop(toy_denoiser, sampler, x_T, generator=torch.Generator().manual_seed(2))
        got = sdedit(toy_denoiser, sampler, z0, 1.0, x_T, generator=torch.Generator().manual_seed(2))
        torch.testing.assert_close(got, expected, rtol=0, atol=0)
        sdedit(toy_denoiser, sampler, z0, 0.5, x_T)
        assert len(sampler.timesteps) == sampler.num_inference_steps  # sdedit trimmed a copy, not the sampler
    everywhere = torch.ones(6, 1, dtype=torch.bool)
    expected = sample_loop(toy_denoiser, DDIMSampler(TOY, 10), x_T)
    torch.testing.assert_close(repaint(toy_denoiser, DDIMSampler(TOY, 10), x_T, z0, everywhere), expected)
    nowhere = torch.zeros(6, 1, dtype=torch.bool)  # keep everything: after the last step, z₀ itself
    assert torch.equal(repaint(toy_denoiser, DDPMSampler(TOY), x_T, z0, nowhere), z0)


def test_edit_honours_the_sampler_and_eta(batch):
    """Strength 1 is generate with the same sampler, η and seed — so both options reach the loop."""
    images, _ = batch
    model = untrained_micro(num_steps=10)  # DDPM walks all T steps: T = 10 keeps it cheap
    for options in ({"sampler": "ddim", "steps": 4, "eta": 0.8}, {"sampler": "ddpm", "steps": 10}):
        generated = model.generate(PROMPTS, seed=6, **options)
        assert torch.equal(model.edit(images, PROMPTS, 1.0, seed=6, **options), generated), options
    assert not torch.equal(model.edit(images, PROMPTS, 0.5, steps=4, seed=6, eta=0.8),
                           model.edit(images, PROMPTS, 0.5, steps=4, seed=6))
    _, traj = model.edit(images, PROMPTS, 0.5, steps=10, sampler="ddpm", seed=6, return_trajectory=True)
    assert traj["timesteps"].tolist() == [4, 3, 2, 1, 0]  # the last ⌈0.5·10⌉ of DDPM's 10 steps


def test_inpaint_honours_the_sampler_and_eta(batch):
    images, masks = batch
    model = untrained_micro(num_steps=10)
    out, traj = model.inpaint(images, masks, PROMPTS, steps=10, sampler="ddpm", seed=2, return_trajectory=True)
    assert traj["timesteps"].tolist() == list(range(9, -1, -1))  # t_prev = t − 1 at every step
    assert torch.equal(out[keep(masks, images)], images[keep(masks, images)])
    deterministic = model.inpaint(images, masks, PROMPTS, steps=4, seed=2)
    assert not torch.equal(model.inpaint(images, masks, PROMPTS, steps=4, seed=2, eta=0.8), deterministic)
    with pytest.raises(ValueError, match="^steps: DDPM"):
        model.inpaint(images, masks, PROMPTS, steps=4, sampler="ddpm")


def test_the_functions_of_lesson_11_are_the_models_methods(model, batch):
    images, masks = batch
    assert torch.equal(editing.inpaint(model, images, masks, PROMPTS, steps=2, seed=1),
                       model.inpaint(images, masks, PROMPTS, steps=2, seed=1))
    assert torch.equal(editing.edit(model, images, PROMPTS, 0.5, steps=2, seed=1),
                       model.edit(images, PROMPTS, 0.5, steps=2, seed=1))
