"""The objective: timestep draws, condition dropout and the loss against their definitions."""
import math

import pytest
import torch
from hypothesis import given, strategies as st

from minigptimage.glyphs import GlyphDataset
from minigptimage.objective import (diffusion_loss, draw_randomness, drop_condition, logit_normal_fractions,
                                    on_timestep_grid, shifted_timesteps)
from minigptimage.pipeline import MiniGPTImage
from minigptimage.training_data import data_batch


@given(st.floats(0, 0.999999), st.floats(0.2, 20))
def test_shifted_timesteps_follow_sd3_eq_23(u, shift):
    t = shifted_timesteps(torch.tensor([u], dtype=torch.float64), 1000, shift)
    expected = math.floor(1000 * shift * u / (1 + (shift - 1) * u))  # Esser et al. 2024, eq. 23
    assert 0 <= t.item() <= 999 and abs(t.item() - min(expected, 999)) <= 1  # ⌊⌋ of a float64 product
    assert shifted_timesteps(torch.tensor([u], dtype=torch.float64), 1000, 1.0).item() == int(1000 * u)


def test_a_timestep_shift_draws_the_noisy_half_as_often_as_its_formula_says_and_1_keeps_the_old_draws():
    g = torch.Generator().manual_seed(0)
    t = draw_randomness(20000, (1, 2, 2), 1000, 0.1, g, timestep_shift=3.0)["t"]
    assert abs((t >= 500).double().mean().item() - 3 / 4) < 0.015  # P(t/T ≥ ½) = α / (1 + α)
    uniform = draw_randomness(8, (1, 2, 2), 1000, 0.1, torch.Generator().manual_seed(1), timestep_shift=1.0)
    assert torch.equal(uniform["t"], torch.randint(0, 1000, (8,), generator=torch.Generator().manual_seed(1)))


def test_drop_condition_swaps_exactly_the_dropped_rows():
    B, L, D = 3, 6, 4
    cond = {"context": torch.randn(B, L, D), "context_mask": torch.ones(B, L, dtype=torch.bool),
            "glyph": torch.rand(B, 1, 8, 8)}
    null = {"context": torch.randn(B, 2, D), "context_mask": torch.ones(B, 2, dtype=torch.bool)}
    out = drop_condition(cond, null, torch.tensor([False, True, False]))
    assert torch.equal(out["context"][0], cond["context"][0]) and torch.equal(out["glyph"][2], cond["glyph"][2])
    assert torch.equal(out["context"][1, :2], null["context"][1]) and out["context_mask"][1].sum() == 2
    assert out["glyph"][1].abs().sum() == 0


def alpha_bar_by_hand(schedule, t):
    """ᾱ_t = ∏_{s≤t} (1 − β_s), a Python product: independent of the schedule's own cumprod."""
    betas = schedule.betas.tolist()
    return torch.tensor([math.prod(1 - b for b in betas[:int(s) + 1]) for s in t], dtype=torch.float64)


def hand_made_batch(model):
    """(z₀, ε, batch) for three items: hand-made latents and noise of the model's latent shape, and a training
    batch of three captions whose latents are that z₀."""
    shape = model.latent_shape(3)
    n = math.prod(shape)
    z0 = torch.linspace(-2, 2, n).reshape(shape)
    eps = torch.cos(torch.arange(n, dtype=torch.float32) * 0.7).reshape(shape)
    batch = data_batch(GlyphDataset("train", length=10, seed=0), 0, 3)
    batch["latent"] = z0
    return z0, eps, batch


@pytest.mark.parametrize("prediction", ["epsilon", "v", "x0"])
def test_the_target_is_its_definition_and_a_perfect_network_has_zero_loss(prediction):
    """A denoiser that outputs the true target — ε, v = √ᾱ_t·ε − √(1−ᾱ_t)·z₀ (Salimans & Ho sec. 4) or z₀ —
    has zero loss; it sees z_t = √ᾱ_t·z₀ + √(1−ᾱ_t)·ε; with Min-SNR-γ an error δ costs w(t)·δ² (Hang et al.
    eq. 10); and a dropped row sees the null prompt and a blank canvas."""
    import dataclasses
    model = MiniGPTImage.from_preset("micro")
    model.config = dataclasses.replace(model.config, prediction=prediction)
    z0, eps, batch = hand_made_batch(model)
    t = torch.tensor([0, 417, 999])
    ab = alpha_bar_by_hand(model.schedule, t).reshape(3, 1, 1, 1)
    z0_64, eps_64 = z0.double(), eps.double()
    target = {"epsilon": eps_64, "x0": z0_64, "v": ab.sqrt() * eps_64 - (1 - ab).sqrt() * z0_64}[prediction]
    draws = {"t": t, "noise": eps, "drop": torch.tensor([False, True, False])}
    seen = {}

    def oracle(z_t, t_in, cond, offset=0.0):
        seen.update(z_t=z_t, t=t_in, cond=cond)
        return (target + offset).float()

    model.denoise = oracle
    with torch.no_grad():
        loss = diffusion_loss(model, batch, draws)
    assert float(loss) < 1e-10, f"{prediction}: a perfect network has loss {float(loss)}"
    torch.testing.assert_close(seen["z_t"].double(), ab.sqrt() * z0_64 + (1 - ab).sqrt() * eps_64,
                               rtol=1e-5, atol=1e-5)
    assert seen["t"].tolist() == t.tolist()
    null = model.null_condition(1)
    n_null = null["context"].shape[1]
    assert seen["cond"]["context_mask"][1].sum() == n_null and seen["cond"]["context_mask"][0].sum() > n_null
    torch.testing.assert_close(seen["cond"]["context"][1, :n_null], null["context"][0])
    assert not seen["cond"]["glyph"][1].any() and seen["cond"]["glyph"][0].any()
    # an error δ = 0.5 everywhere costs δ² (the loss is unweighted)
    model.denoise = lambda z_t, t_in, cond: oracle(z_t, t_in, cond, offset=0.5)
    with torch.no_grad():
        assert float(diffusion_loss(model, batch, draws)) == pytest.approx(0.25, rel=1e-5)


def test_the_loss_is_float32_on_the_device():
    """The schedule's tables are float64 (schedule.py); the loss that reaches the device must not be."""
    model = MiniGPTImage.from_preset("micro")
    draws = draw_randomness(2, model.latent_shape(1)[1:], 1000, 0.1, torch.Generator())
    loss = diffusion_loss(model, data_batch(GlyphDataset("train", length=10, seed=0), 0, 2), draws)
    assert loss.dtype == torch.float32


@given(st.floats(-3.0, 3.0), st.floats(-1.0, 1.0), st.floats(0.5, 2.0))
def test_logit_normal_timesteps_are_the_sigmoid_of_a_normal_draw(z, m, s):
    """t/T = sigmoid(m + s·z) (Esser et al. 2024, eq. 19), floored onto DDPM's grid {0, …, T−1}."""
    t = on_timestep_grid(logit_normal_fractions(torch.tensor([z], dtype=torch.float64), m, s), 1000).item()
    assert 0 <= t <= 999 and abs(t - min(999, math.floor(1000 / (1 + math.exp(-(m + s * z)))))) <= 1


def test_logit_normal_draws_centre_on_the_sigmoid_of_m():
    draws = draw_randomness(20000, (1, 2, 2), 1000, 0.1, torch.Generator().manual_seed(0), logit_normal=(0.5, 1.0))
    median = draws["t"].double().median().item()
    assert abs(median - 1000 / (1 + math.exp(-0.5))) < 10  # the median of sigmoid(m + s·z) is sigmoid(m)


@given(st.integers(0, 2**16), st.floats(0.05, 0.95))
def test_a_shifted_share_draws_that_share_of_rows_by_the_shift_and_the_rest_logit_normal(seed, share):
    """Each row: z, u, then a flag < share picks the shift α's draw (eq. 23) over sigmoid(m + s·z) (eq. 19)."""
    from minigptimage.flow import shift_sigma
    from minigptimage.objective import logit_normal_or_shifted
    mixed = logit_normal_or_shifted(64, torch.Generator().manual_seed(seed), (0.3, 1.2), 3.0, share)
    g = torch.Generator().manual_seed(seed)
    z, u = (torch.randn(64, generator=g, dtype=torch.float64), torch.rand(64, generator=g, dtype=torch.float64))
    pick = torch.rand(64, generator=g) < share
    assert torch.equal(mixed, torch.where(pick, shift_sigma(u, 3.0), logit_normal_fractions(z, 0.3, 1.2)))
    g, alone = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    only_logit_normal = logit_normal_or_shifted(64, g, (0.3, 1.2), 3.0, 0.0)  # share 0: z alone is drawn
    assert torch.equal(only_logit_normal,
                       logit_normal_fractions(torch.randn(64, generator=alone, dtype=torch.float64), 0.3, 1.2))
    assert torch.equal(torch.rand(3, generator=g), torch.rand(3, generator=alone))


@given(st.integers(0, 10**5), st.integers(1, 10**5), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_the_shifted_share_holds_until_its_share_of_the_run_then_is_zero(step, total, share, until):
    from minigptimage.objective import shifted_share_at
    assert shifted_share_at(step, total, share, until) == (share if step < until * total else 0.0)


def test_the_tiny_preset_trains_both_ends_of_the_path():
    """Half logit-normal (0, 1), half shifted by α = 3: P(t/T ≥ 0.8) = ½·0.083 + ½·0.429 and the middle
    (0.2 ≤ t/T < 0.6) ½·0.574 + ½·0.256 — the shift's noisy end for the colours, logit-normal's middle for the
    letters (RESULTS.md, "Retrains not shipped") — for the first 80% of the run, then logit-normal alone."""
    from minigptimage.train import TrainConfig
    cfg = TrainConfig.preset("tiny")
    assert cfg.shifted_until == 0.8
    t = draw_randomness(40000, (1, 2, 2), 1000, 0.1, torch.Generator().manual_seed(0), cfg.timestep_shift,
                        cfg.logit_normal, cfg.shifted_share)["t"].double() / 1000
    assert abs((t >= 0.8).double().mean().item() - 0.256) < 0.01
    assert abs(((t >= 0.2) & (t < 0.6)).double().mean().item() - 0.415) < 0.01


# ---------------------------------------------------------------- the flow-matching objective
def test_flow_draws_are_continuous_shifted_or_logit_normal_and_drawn_in_order():
    from minigptimage.objective import draw_flow_randomness
    uniform = draw_flow_randomness(20000, (1, 2, 2), 0.1, torch.Generator().manual_seed(0))["t"]
    assert uniform.dtype == torch.float64 and 0 <= uniform.min() and uniform.max() < 1
    assert uniform.unique().numel() == 20000  # not on a grid
    shifted = draw_flow_randomness(20000, (1, 2, 2), 0.1, torch.Generator().manual_seed(0), timestep_shift=3.0)["t"]
    assert abs((shifted >= 0.5).double().mean().item() - 3 / 4) < 0.015  # P(t ≥ ½) = α / (1 + α)
    g = torch.Generator().manual_seed(1)
    draws = draw_flow_randomness(4, (1, 2, 2), 0.5, g, logit_normal=(0.5, 1.2))
    g = torch.Generator().manual_seed(1)  # the same stream by hand: z, then ε, then the dropout flags
    z = torch.randn(4, generator=g, dtype=torch.float64)
    assert torch.equal(draws["t"], logit_normal_fractions(z, 0.5, 1.2))
    assert torch.equal(draws["noise"], torch.randn(4, 1, 2, 2, generator=g))
    assert torch.equal(draws["drop"], torch.rand(4, generator=g) < 0.5)


def test_the_flow_target_is_noise_minus_data_on_the_straight_path_and_a_perfect_network_has_zero_loss():
    """z_t = (1 − t)·z₀ + t·ε, the U-Net reads t·T (a float), the target is ε − z₀ (SD3 eq. 1–4, sec. 3.1);
    an error δ everywhere costs δ² (no weighting)."""
    from minigptimage.objective import flow_loss
    model = MiniGPTImage.from_preset("micro")
    z0, eps, batch = hand_made_batch(model)
    t = torch.tensor([0.0, 0.4170, 0.999], dtype=torch.float64)
    draws = {"t": t, "noise": eps, "drop": torch.tensor([False, True, False])}
    seen = {}

    def oracle(z_t, t_in, cond, offset=0.0):
        seen.update(z_t=z_t, t=t_in, cond=cond)
        return eps - z0 + offset

    model.denoise = oracle
    with torch.no_grad():
        assert float(flow_loss(model, batch, draws)) == 0.0
    tt = t.float().reshape(3, 1, 1, 1)
    torch.testing.assert_close(seen["z_t"], (1 - tt) * z0 + tt * eps)
    assert seen["t"].dtype == torch.float32 and seen["t"].tolist() == pytest.approx([0.0, 417.0, 999.0])
    assert not seen["cond"]["glyph"][1].any() and seen["cond"]["glyph"][0].any()  # dropout as DDPM's
    model.denoise = lambda z_t, t_in, cond: oracle(z_t, t_in, cond, offset=0.5)
    with torch.no_grad():
        assert float(flow_loss(model, batch, draws)) == pytest.approx(0.25)


def test_a_flow_trainer_takes_flow_steps_and_refuses_a_model_built_for_another_objective(tmp_path):
    import dataclasses
    from minigptimage.objective import flow_loss
    from minigptimage.train import Trainer, TrainConfig
    model = MiniGPTImage.from_preset("micro")
    with pytest.raises(ValueError, match="objective"):
        Trainer(model, TrainConfig(objective="flow"), tmp_path, log=lambda m: None)
    model.config = dataclasses.replace(model.config, objective="flow")
    trainer = Trainer(model, TrainConfig(objective="flow", batch_size=2, vae_steps=0), tmp_path, log=lambda m: None)
    assert trainer.objective.loss_fn is flow_loss
    seen = []
    trainer.objective.loss_fn = lambda m, batch, draws, *rest: seen.append(draws) or flow_loss(m, batch, draws, *rest)
    assert math.isfinite(trainer.train_step(10))
    assert seen[0]["t"].dtype == torch.float64 and 0 <= float(seen[0]["t"].min()) < 1  # continuous t
