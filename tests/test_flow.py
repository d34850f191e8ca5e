"""Flow matching: the path and its ends, SD3's shift, the Euler and Heun samplers against analytic answers and
(where installed) diffusers' FlowMatchEulerDiscreteScheduler, the editing loops on the flow path, a flow model
through save/load and its samplers, and the command line's ``train --objective flow`` / ``sample --sampler``."""
import dataclasses
import math

import pytest
import torch
from hypothesis import given, strategies as st

from minigptimage.editing import flow_repaint, flow_sdedit
from minigptimage.flow import (flow_interpolate, flow_renoise, flow_sigmas, flow_velocity_target, flow_x0,
                               shift_sigma)
from minigptimage.gaussian_mixture import GaussianMixture
from minigptimage.pipeline import MiniGPTImage
from minigptimage.samplers import (FlowEulerSampler, FlowHeunSampler, flow_sample_loop,
                                   sample_loop)

PROMPT = 'the word "CAT" in red on white, in the center'
unit = st.floats(0, 1)


def pair(seed: int, shape=(3, 2, 4, 4)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)


# ---------------------------------------------------------------- the path
@given(st.integers(0, 2**31 - 1), unit)
def test_the_path_starts_at_the_data_ends_at_the_noise_and_moves_at_its_velocity(seed, t):
    x0, eps = pair(seed)
    assert torch.equal(flow_interpolate(x0, eps, 0.0), x0) and torch.equal(flow_interpolate(x0, eps, 1.0), eps)
    x_t = flow_interpolate(x0, eps, t)
    h = 1e-3 if t < 0.5 else -1e-3  # a step along the path, inside [0, 1]
    slope = (flow_interpolate(x0, eps, t + h) - x_t) / h
    assert torch.allclose(slope, flow_velocity_target(x0, eps), atol=1e-9)  # straight: the same slope anywhere
    assert torch.allclose(flow_x0(x_t, flow_velocity_target(x0, eps), t), x0, atol=1e-12)
    per_row = torch.tensor([0.0, t, 1.0], dtype=torch.float64)  # (B,) broadcasts over (B, C, h, w)
    assert torch.equal(flow_interpolate(x0, eps, per_row)[1], flow_interpolate(x0[1:2], eps[1:2], t)[0])


@given(unit, unit, st.floats(0.05, 20))
def test_the_shift_is_increasing_and_keeps_both_ends(a, b, shift):
    assert shift_sigma(0.0, shift) == 0 and math.isclose(shift_sigma(1.0, shift), 1, rel_tol=1e-14)
    lo, hi = min(a, b), max(a, b)
    assert shift_sigma(lo, shift) <= shift_sigma(hi, shift) + 1e-15
    if shift > 1 and 0 < a < 1:
        assert shift_sigma(a, shift) > a  # SD3: more of the grid near the noise


@given(st.integers(1, 60), st.floats(0.2, 10))
def test_the_grid_runs_from_1_to_0_in_equal_steps_before_its_shift(n, shift):
    sigmas = flow_sigmas(n, shift)
    assert sigmas.shape == (n + 1,) and math.isclose(sigmas[0], 1, rel_tol=1e-6) and sigmas[-1] == 0
    assert bool((sigmas[1:] < sigmas[:-1]).all())
    unshifted = 1 - torch.arange(n + 1, dtype=torch.float64) / n
    assert torch.allclose(sigmas.double(), shift_sigma(unshifted, shift), atol=1e-6)


@given(st.integers(0, 2**31 - 1), st.floats(0, 0.99), st.floats(0, 1))
def test_renoising_moves_a_point_of_the_path_to_a_later_point_of_the_path(seed, lo, frac):
    """x = (1−σ)·x₀ + σ·ε₁ moved to σ' ≥ σ has mean (1−σ')·x₀ and noise of standard deviation σ' (the two
    noises' coefficients are read off by passing unit vectors)."""
    hi = lo + frac * (1 - lo)
    x0 = torch.randn(5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    zero = torch.zeros(5, dtype=torch.float64)
    mean = flow_renoise(flow_interpolate(x0, zero, lo), lo, hi, zero)
    assert torch.allclose(mean, (1 - hi) * x0, atol=1e-12)
    c1 = flow_renoise(flow_interpolate(zero, zero + 1, lo), lo, hi, zero)[0]  # coefficient of ε₁
    c2 = flow_renoise(zero, lo, hi, zero + 1)[0]                              # coefficient of the new ε
    assert math.isclose(c1**2 + c2**2, hi**2, abs_tol=1e-12)


# ---------------------------------------------------------------- the samplers
def one_path_oracle(x0):
    """The exact velocity field when the data is the single point x₀: v(x, σ) = (x − x₀)/σ (every path is the
    straight line to x₀), as a denoiser that reads σ·T."""
    return lambda x, t, cond: (x - x0) / (t.reshape(-1, *[1] * (x.dim() - 1)).double() / 1000)


@given(st.integers(0, 2**31 - 1), st.integers(1, 12), st.floats(0.3, 6))
def test_with_an_oracle_velocity_euler_lands_on_x0_from_t_1_in_any_number_of_steps(seed, n, shift):
    x0, eps = pair(seed)
    v = flow_velocity_target(x0, eps)
    assert torch.allclose(FlowEulerSampler(1).step(v, 0, eps), x0, atol=1e-12)  # one step from t = 1
    assert torch.allclose(flow_sample_loop(one_path_oracle(x0), FlowEulerSampler(n, shift), eps), x0, atol=1e-9)


@given(st.integers(0, 2**31 - 1), st.integers(1, 10), st.floats(0.3, 6))
def test_heun_is_exact_on_a_field_affine_in_t_and_independent_of_x(seed, n, shift):
    """dx/dσ = a + b·σ from σ = 1 to 0: x(0) = x(1) − a − b/2, which the trapezoid rule hits exactly (up to the
    float32 grid and timesteps: 1e-5); Euler does not (its error is b/(2n) on a uniform grid, 0.1 or more here)."""
    x1, a = pair(seed)
    b = torch.linspace(-2, 2, x1.numel(), dtype=torch.float64).reshape(x1.shape)
    calls = []

    def field(x, t, cond):
        calls.append(t)
        return a + b * (t[0].item() / 1000)

    exact = x1 - a - b / 2
    assert torch.allclose(flow_sample_loop(field, FlowHeunSampler(n, shift), x1), exact, atol=1e-5)
    assert len(calls) == 2 * n  # two evaluations a step, the last one too
    if shift == 1:
        euler = flow_sample_loop(field, FlowEulerSampler(n), x1)
        assert torch.allclose(euler - exact, b / (2 * n), atol=1e-5)


def test_sample_loop_runs_a_flow_sampler_with_guidance_on_the_velocity_and_records_x0():
    x0, eps = pair(0)
    cond, uncond = "c", "u"

    def denoiser(x, t, c):
        assert t.dtype == torch.float32 and t.shape == (x.shape[0],)  # σ·T, continuous
        return (x - x0) / (t[0].item() / 1000) if c == "c" else torch.zeros_like(x)

    out, traj = sample_loop(denoiser, FlowEulerSampler(4), eps, cond=cond, uncond=uncond, guidance=1.0,
                            return_trajectory=True)
    assert torch.allclose(out, x0) and traj["x_t"].shape == (5, *x0.shape) and traj["x0_pred"].shape[0] == 4
    assert torch.allclose(traj["x0_pred"], x0.expand_as(traj["x0_pred"]))  # x̂₀ = x − σ·v̂ of a straight path
    assert torch.allclose(traj["timesteps"], torch.tensor([1000.0, 750.0, 500.0, 250.0]))
    half = flow_sample_loop(denoiser, FlowEulerSampler(1), eps, cond=cond, uncond=uncond, guidance=0.5)
    assert torch.allclose(half, eps + 0.5 * (x0 - eps))  # ṽ = v(∅) + s·(v(c) − v(∅)): half the velocity


def test_one_euler_step_from_noise_lands_every_particle_on_the_mean_and_heun_beats_euler_on_a_toy():
    """With the exact field of a Gaussian mixture, one step from σ = 1 gives E[x₀ | x₁] = E[x₀] for every
    particle (x₁ is independent of x₀): why one step fails. More steps follow the curved ODE paths."""
    toy = GaussianMixture([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]], [0.3, 0.3, 0.2], [0.5, 0.3, 0.2])
    field = lambda x, t, cond: toy.optimal_velocity(x, t / 1000)  # noqa: E731
    x_T = torch.randn(200, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.allclose(flow_sample_loop(field, FlowEulerSampler(1), x_T), toy.mean().expand(200, 2))
    ref = flow_sample_loop(field, FlowHeunSampler(100), x_T)
    error = {(k, n): (flow_sample_loop(field, k(n), x_T) - ref).norm(dim=1).mean().item()
             for k in (FlowEulerSampler, FlowHeunSampler) for n in (4, 8)}
    assert error[FlowHeunSampler, 4] < error[FlowEulerSampler, 8] / 2  # the same 8 evaluations
    assert error[FlowHeunSampler, 8] < error[FlowHeunSampler, 4] / 2.5  # second order


def test_a_flow_step_refuses_a_wrong_index_or_shape_and_heun_needs_its_field():
    s = FlowHeunSampler(3)
    x = torch.zeros(2, 4)
    with pytest.raises(ValueError, match="i must be"):
        s.step(x, 3, x, lambda x, sigma: x)
    with pytest.raises(ValueError, match="model_output"):
        s.step(torch.zeros(2, 3), 0, x, lambda x, sigma: x)
    with pytest.raises(ValueError, match="velocity"):
        s.step(x, 0, x)
    with pytest.raises(ValueError, match="shift"):
        FlowEulerSampler(3, shift=0)


# ---------------------------------------------------------------- parity with diffusers
@pytest.mark.parametrize("shift", [1.0, 3.0, 0.5])
@pytest.mark.parametrize("n", [1, 2, 7, 30])
def test_euler_grid_and_steps_equal_diffusers_flow_match_euler(shift, n):
    """diffusers' FlowMatchEulerDiscreteScheduler with sigmas = linspace(1, 1/n, n) (its FLUX pipeline's call):
    the same σ grid (0 appended), timesteps σ·T and steps x + (σ_next − σ)·v; with dynamic shifting its
    mu = ln(s) gives the same grid as a static shift s."""
    diffusers = pytest.importorskip("diffusers")
    import numpy as np
    ours = FlowEulerSampler(n, shift=shift)
    theirs = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    theirs.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n))
    assert torch.allclose(ours.sigmas, theirs.sigmas.float(), atol=1e-6)
    assert torch.allclose(ours.timesteps, theirs.timesteps.float(), atol=1e-3)
    dynamic = diffusers.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, use_dynamic_shifting=True)
    dynamic.set_timesteps(sigmas=np.linspace(1.0, 1 / n, n), mu=math.log(shift))
    assert torch.allclose(ours.sigmas, dynamic.sigmas.float(), atol=1e-6)
    g = torch.Generator().manual_seed(n)
    x = torch.randn(2, 4, 8, 8, generator=g)
    x_ours = x.clone()
    for i, t in enumerate(theirs.timesteps):
        v = torch.randn(2, 4, 8, 8, generator=g)
        x = theirs.step(v, t, x).prev_sample
        x_ours = ours.step(v, i, x_ours)
        assert torch.allclose(x_ours, x, atol=1e-5)


# ---------------------------------------------------------------- the editing loops on the flow path
def test_flow_repaint_noises_the_kept_region_to_each_steps_output_level_and_ends_on_it():
    """A mask of zeros keeps everything: after step i the latent is (1 − σ_{i+1})·z₀ + σ_{i+1}·ε with a fresh ε
    of unit variance — at the step's OUTPUT level (noised to σ_i it would be σ_i/σ_{i+1} too large) — and z₀
    itself at the end. An all-ones mask is plain sampling."""
    sampler = FlowEulerSampler(4)
    g = torch.Generator().manual_seed(0)
    z0, x_T = torch.randn(1, 4, 64, 64, generator=g), torch.randn(1, 4, 64, 64, generator=g)
    field = lambda x, t, cond: x - z0  # noqa: E731  (any field: the kept region ignores it)
    keep_all = torch.zeros(1, 1, 64, 64, dtype=torch.bool)
    out, traj = flow_repaint(field, sampler, x_T, z0, keep_all, generator=g, return_trajectory=True)
    assert torch.equal(out, z0)
    for i, sigma in enumerate(sampler.sigmas[1:-1].tolist()):
        eps = (traj["x_t"][i + 1] - (1 - sigma) * z0) / sigma
        assert abs(eps.std().item() - 1) < 0.03, (i, sigma, eps.std().item())
    everything = torch.ones_like(keep_all)
    assert torch.equal(flow_repaint(field, sampler, x_T, z0, everything, generator=g),
                       flow_sample_loop(field, sampler, x_T))


def test_flow_sdedit_starts_at_sigma_strength_on_the_path_and_runs_the_grid_below_it():
    sampler = FlowHeunSampler(10, shift=3.0)
    z0, eps = pair(1, (2, 4, 8, 8))
    field = lambda x, t, cond: eps - z0  # noqa: E731  (the true velocity of these pairs)
    out, traj = flow_sdedit(field, sampler, z0, 0.45, eps, return_trajectory=True)
    assert torch.allclose(traj["x_t"][0], 0.55 * z0 + 0.45 * eps) and torch.allclose(out, z0)
    assert traj["sigmas"][0] == pytest.approx(0.45) and bool((traj["sigmas"][1:] < 0.45).all())
    assert torch.equal(sampler.sigmas, flow_sigmas(10, 3.0))  # the caller's sampler is untouched
    assert torch.equal(flow_sdedit(field, sampler, z0, 0.0, eps), z0)
    assert torch.equal(flow_sdedit(field, sampler, z0, 1.0, eps), flow_sample_loop(field, sampler, eps))


# ---------------------------------------------------------------- a flow model
@pytest.fixture(scope="module")
def flow_micro():
    from fixtures_model import untrained_micro
    model = untrained_micro()
    model.config = dataclasses.replace(model.config, objective="flow")
    return model


def test_a_flow_model_round_trips_save_and_load_and_samples_the_same(flow_micro, tmp_path):
    path = flow_micro.save(tmp_path / "flow.pt")
    loaded = MiniGPTImage.load(path)
    assert loaded.config.objective == "flow" and loaded.config == flow_micro.config
    for sampler in ("euler", "heun"):
        a = flow_micro.generate([PROMPT], steps=2, sampler=sampler, seed=3)
        assert torch.equal(a, loaded.generate([PROMPT], steps=2, sampler=sampler, seed=3))
    assert torch.equal(loaded.generate([PROMPT], steps=2, seed=3),  # the default sampler of a flow model
                       loaded.generate([PROMPT], steps=2, sampler="euler", seed=3))


def test_each_objective_refuses_the_other_ones_samplers_in_one_line(flow_micro):
    for sampler in ("ddim", "ddpm"):
        with pytest.raises(ValueError, match=rf"sampler: '{sampler}' .* objective 'flow'; use 'euler' or 'heun'"):
            flow_micro.generate([PROMPT], steps=1000 if sampler == "ddpm" else 2, sampler=sampler)
    ddpm = MiniGPTImage.from_preset("micro")
    for sampler in ("euler", "heun"):
        with pytest.raises(ValueError, match=rf"sampler: '{sampler}' .* objective 'ddpm'; use 'ddim' or 'ddpm'"):
            ddpm.generate([PROMPT], steps=2, sampler=sampler)
    with pytest.raises(ValueError, match="eta"):
        flow_micro.generate([PROMPT], steps=2, eta=0.5)


def test_a_flow_model_inpaints_and_edits(flow_micro):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 64, 64, generator=g) * 2 - 1
    mask = torch.zeros(1, 1, 64, 64)
    mask[..., 16:48, 8:56] = 1
    out = flow_micro.inpaint(image, mask, [PROMPT], steps=2, resample=2, sampler="heun")
    assert torch.equal(out[..., :16, :], image[..., :16, :]) and not torch.equal(out, image)
    assert torch.equal(flow_micro.edit(image, [PROMPT], 1.0, steps=3, seed=5),
                       flow_micro.generate([PROMPT], steps=3, seed=5))


def test_a_flow_config_must_predict_the_velocity():
    from minigptimage.pipeline import PipelineConfig
    d = dataclasses.replace(PipelineConfig.preset("micro"), objective="flow", prediction="epsilon").to_dict()
    with pytest.raises(ValueError, match="prediction"):
        PipelineConfig.from_dict(d)


def test_the_unet_reads_a_float_timestep_as_it_is_and_an_integer_one_as_before(flow_micro):
    unet = flow_micro.unet
    x = torch.randn(flow_micro.latent_shape(2), generator=torch.Generator().manual_seed(0))
    ctx, mask = torch.zeros(2, 3, unet.cfg.context_dim), torch.ones(2, 3, dtype=torch.bool)
    assert unet.check(x, torch.tensor([999.7, 0.25]), ctx, mask, None).tolist() == [pytest.approx(999.7), 0.25]
    assert unet.check(x, 7, ctx, mask, None).dtype == torch.long
    with torch.no_grad():
        assert torch.equal(unet(x, torch.tensor([3, 500]), ctx, mask), unet(x, torch.tensor([3.0, 500.0]), ctx, mask))
        assert not torch.equal(unet(x, torch.tensor([3.0, 500.0]), ctx, mask),
                               unet(x, torch.tensor([3.5, 500.0]), ctx, mask))


# ---------------------------------------------------------------- the command line
def test_the_command_line_trains_a_flow_model_and_samples_it_with_euler_and_heun(tmp_path, capsys):
    from minigptimage.__main__ import main
    from minigptimage.provenance import read_png
    out, vae = tmp_path / "run", MiniGPTImage.from_preset("micro").save(tmp_path / "vae.pt")  # no VAE phase
    argv = ["train", "--preset", "micro", "--out", out, "--steps", 2, "--batch-size", 2, "--vae", vae,
            "--objective", "flow"]
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    ckpt = torch.load(out / "ckpt_0000002.pt", weights_only=True)
    assert ckpt["config"]["objective"] == "flow" and ckpt["train_state"]["train_config"]["objective"] == "flow"
    for sampler, png in (("euler", tmp_path / "e.png"), ("heun", tmp_path / "h.png"), (None, tmp_path / "d.png")):
        code = main(["sample", PROMPT, "--checkpoint", str(out), "--steps", "2", "--out", str(png)]
                    + ([] if sampler is None else ["--sampler", sampler]))
        assert code == 0 and png.is_file(), capsys.readouterr().err
        assert read_png(png)[1]["sampler"] == (sampler or "euler")  # the manifest records what ran
    capsys.readouterr()
    refused = tmp_path / "x.png"
    assert main(["sample", PROMPT, "--checkpoint", str(out), "--sampler", "ddim", "--out", str(refused)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'ddim'" in err and "'flow'" in err and not refused.exists()


# ---------------------------------------------------------------- the equal-budget benchmark, on micro models
def test_the_flow_vs_ddpm_benchmark_scores_each_sampler_at_equal_evaluations(flow_micro, tmp_path, capsys):
    from minigptimage.benchmarks import flow_vs_ddpm
    assert [flow_vs_ddpm.steps_for("heun", e) for e in (1, 2, 4, 30)] == [None, 1, 2, 15]
    assert [flow_vs_ddpm.steps_for(s, 8) for s in ("ddim", "euler")] == [8, 8]
    ddpm, flow = tmp_path / "ddpm.pt", flow_micro.save(tmp_path / "flow.pt")
    MiniGPTImage.from_preset("micro").save(ddpm)
    figure = tmp_path / "fig.png"
    code = flow_vs_ddpm.main(["--checkpoint", str(ddpm), "--checkpoint", str(flow), "--n", "1",
                              "--evaluations", "1", "2", "--out", str(figure)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ddpm") or line.startswith("| flow")]
    assert code == 0 and figure.is_file()
    assert [r.split(" | ")[:4] for r in rows] == [["| ddpm", "ddim", "1", "1"], ["| ddpm", "ddim", "2", "2"],
                                                  ["| flow", "euler", "1", "1"], ["| flow", "euler", "2", "2"],
                                                  ["| flow", "heun", "2", "1"]]
