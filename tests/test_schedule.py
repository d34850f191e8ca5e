"""NoiseSchedule: the schedules, the forward chain against its closed form, the posterior against Bayes' rule
computed independently, and the ε / x₀ / v conversions."""
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.schedule import NoiseSchedule

SCHEDULES = {"linear": NoiseSchedule.linear(1000), "cosine": NoiseSchedule.cosine(1000),
             "linear50": NoiseSchedule.from_name("linear", 50), "cosine50": NoiseSchedule.cosine(50)}
schedules = st.sampled_from(sorted(SCHEDULES))


def test_linear_is_literally_linspace():
    assert torch.equal(NoiseSchedule.linear(1000).betas, torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64))
    assert torch.equal(NoiseSchedule.linear(7, 0.1, 0.3).betas, torch.linspace(0.1, 0.3, 7, dtype=torch.float64))


@pytest.mark.parametrize("T", [1, 10, 1000])
def test_cosine_follows_improved_ddpm_eq_17(T):
    # ᾱ_t = f(t+1)/f(0) with f(u) = cos²((u/T + s)/(1 + s)·π/2), wherever the 0.999 cap is not hit
    f = lambda u: math.cos((u / T + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    sched = NoiseSchedule.cosine(T)
    uncapped = sched.betas < 0.999
    expected = torch.tensor([f(t + 1) / f(0) for t in range(T)], dtype=torch.float64)
    torch.testing.assert_close(sched.alphas_cumprod[uncapped], expected[uncapped], rtol=1e-12, atol=0)
    assert sched.betas.max() <= 0.999 and bool(uncapped[: T - 1].all())  # only the last step is capped


@given(st.integers(1, 2000), st.floats(1e-5, 1e-2), st.floats(1e-2, 0.5))
def test_linear_alphas_cumprod_strictly_decreasing_in_unit_interval(T, beta_start, beta_end):
    for sched in (NoiseSchedule.linear(T, beta_start, beta_end), NoiseSchedule.cosine(T)):
        ab = sched.alphas_cumprod
        assert bool(((ab > 0) & (ab < 1)).all()) and bool((ab[1:] < ab[:-1]).all())
        assert sched.num_steps == T and sched.snr.shape == (T,)


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("T", [100, 250, 1000])
def test_preset_schedules_reach_noise(name, T):
    sched = NoiseSchedule.from_name(name, T)
    assert sched.alphas_cumprod[-1] < 1e-2, f"{name} with T={T} ends at ᾱ_T={float(sched.alphas_cumprod[-1])}"
    assert sched.alphas_cumprod[0] > 0.99  # and starts near the data


def test_from_name_linear_is_literal_at_1000_and_scaled_elsewhere():
    assert torch.equal(NoiseSchedule.from_name("linear", 1000).betas, NoiseSchedule.linear(1000).betas)
    torch.testing.assert_close(NoiseSchedule.from_name("linear", 100).betas,
                               torch.linspace(1e-3, 0.2, 100, dtype=torch.float64))


@given(schedules, st.data())
def test_closed_form_is_the_composition_of_markov_steps(name, data):
    # q_step is affine: x_t = a·x_{t−1} + c·ε. Compose a and c² from q_step itself, compare with eq. (4).
    sched = SCHEDULES[name]
    t = data.draw(st.integers(0, sched.num_steps - 1))
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    mean_coef, var = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    for s in range(t + 1):
        a = sched.q_step(one, s, noise=zero)          # √(1−β_s)
        c = sched.q_step(zero, s, noise=one)          # √β_s
        mean_coef, var = a * mean_coef, a**2 * var + c**2
    alpha_bar = sched.alphas_cumprod[t]
    torch.testing.assert_close(mean_coef, alpha_bar.sqrt().reshape(1), rtol=1e-10, atol=0)
    torch.testing.assert_close(var, (1 - alpha_bar).reshape(1), rtol=1e-10, atol=1e-14)


def test_chain_and_closed_form_agree_by_sampling():
    sched, t, n = NoiseSchedule.from_name("linear", 50), 30, 20000
    x0 = torch.tensor([1.5, -0.5], dtype=torch.float64).expand(n, 2)  # (n, 2)
    g = torch.Generator().manual_seed(0)
    x = x0
    for s in range(t + 1):
        x = sched.q_step(x, s, generator=g)
    direct = sched.q_sample(x0, t, generator=g)
    se = (1 / n) ** 0.5  # standard error of a mean of n unit-variance draws
    for samples in (x, direct):
        torch.testing.assert_close(samples.mean(0), sched.alphas_cumprod[t].sqrt() * x0[0], rtol=0, atol=5 * se)
        torch.testing.assert_close(samples.var(0), (1 - sched.alphas_cumprod[t]).expand(2), rtol=0, atol=5 * 1.5 * se)


def test_timesteps_as_int_0d_or_batch_agree():
    sched = SCHEDULES["cosine"]
    x0, eps = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    t = torch.tensor([0, 500, 999])
    batched = sched.q_sample(x0, t, noise=eps)
    for i in range(3):
        torch.testing.assert_close(batched[i], sched.q_sample(x0[i:i + 1], int(t[i]), noise=eps[i:i + 1])[0])
        torch.testing.assert_close(batched[i], sched.q_sample(x0[i:i + 1], t[i], noise=eps[i:i + 1])[0])
    ab = sched.alphas_cumprod[999]
    torch.testing.assert_close(batched[2], (ab.sqrt() * x0[2] + (1 - ab).sqrt() * eps[2]).float())


@given(schedules, st.data())
def test_posterior_is_bayes_rule(name, data):
    # q(x_{t−1}|x_t, x₀) ∝ q(x_t|x_{t−1})·q(x_{t−1}|x₀): a product of Gaussians in x_{t−1}, by completing the square.
    sched = SCHEDULES[name]
    t = data.draw(st.integers(0, sched.num_steps - 1))
    x0 = torch.tensor(data.draw(st.lists(st.floats(-3, 3), min_size=3, max_size=3)), dtype=torch.float64)
    x_t = torch.tensor(data.draw(st.lists(st.floats(-3, 3), min_size=3, max_size=3)), dtype=torch.float64)
    betas = sched.betas.tolist()
    alpha_bar_prev = math.prod(1 - b for b in betas[:t])  # ᾱ_{t−1}, 1 for t = 0
    mean, var = sched.q_posterior(x0, x_t, t)
    if t == 0:  # the state before step 0 is x₀ itself
        torch.testing.assert_close(mean, x0, rtol=0, atol=1e-12)
        assert float(var) == 0
        return
    alpha, beta = 1 - betas[t], betas[t]
    precision = alpha / beta + 1 / (1 - alpha_bar_prev)
    expected_mean = (math.sqrt(alpha) / beta * x_t + math.sqrt(alpha_bar_prev) / (1 - alpha_bar_prev) * x0) / precision
    torch.testing.assert_close(mean, expected_mean, rtol=1e-9, atol=1e-9)
    assert math.isclose(float(var), 1 / precision, rel_tol=1e-9)


@given(schedules, st.data(), st.sampled_from([torch.float32, torch.float64]))
def test_eps_x0_v_conversions_round_trip(name, data, dtype):
    sched = SCHEDULES[name]
    t = torch.tensor(data.draw(st.lists(st.integers(0, sched.num_steps - 1), min_size=4, max_size=4)))
    g = torch.Generator().manual_seed(data.draw(st.integers(0, 2**16)))
    x0, eps = torch.randn(4, 3, 2, generator=g, dtype=dtype), torch.randn(4, 3, 2, generator=g, dtype=dtype)
    x_t = sched.q_sample(x0, t, noise=eps)
    v = sched.get_v(x0, eps, t)
    # tolerance: float32 loses digits dividing by √ᾱ (large t) or √(1−ᾱ) (small t)
    ab = sched.alphas_cumprod[t].reshape(4, 1, 1)
    tol = dict(rtol=0, atol=1e-10) if dtype == torch.float64 else dict(
        rtol=0, atol=(1e-6 / torch.minimum(ab, 1 - ab).sqrt()).to(dtype))
    close = lambda a, b: assert_close_broadcast(a, b, **tol)  # noqa: E731
    close(sched.eps_to_x0(eps, x_t, t), x0)
    close(sched.x0_to_eps(x0, x_t, t), eps)
    close(sched.v_to_x0(v, x_t, t), x0)
    close(sched.v_to_eps(v, x_t, t), eps)
    for prediction, out in (("epsilon", eps), ("v", v), ("x0", x0)):
        x0_hat, eps_hat = sched.to_x0_and_eps(out, x_t, t, prediction)
        assert x0_hat.dtype == dtype and eps_hat.dtype == dtype
        close(x0_hat, x0)
        close(eps_hat, eps)


def assert_close_broadcast(actual, expected, rtol, atol):
    assert bool(((actual - expected).abs() <= atol + rtol * expected.abs()).all()), (actual - expected).abs().max()


def test_methods_return_the_input_dtype():
    sched = SCHEDULES["cosine"]
    for dtype in (torch.float32, torch.float64):
        x = torch.randn(2, 3, dtype=dtype)
        assert sched.q_sample(x, 5).dtype == dtype and sched.q_step(x, 5).dtype == dtype
        mean, var = sched.q_posterior(x, x, 5)
        assert mean.dtype == dtype and var.dtype == dtype


def test_generator_makes_draws_reproducible():
    sched, x = SCHEDULES["linear"], torch.zeros(2, 3)
    a = sched.q_sample(x, 999, generator=torch.Generator().manual_seed(3))
    b = sched.q_sample(x, 999, generator=torch.Generator().manual_seed(3))
    c = sched.q_sample(x, 999, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("call, argument", [
    (lambda: NoiseSchedule(torch.tensor([0.1, 1.0])), "betas"),
    (lambda: NoiseSchedule(torch.tensor([0.0, 0.1])), "betas"),
    (lambda: NoiseSchedule(torch.full((2, 2), 0.1)), "betas"),
    (lambda: NoiseSchedule(torch.tensor([])), "betas"),
    (lambda: NoiseSchedule.linear(0), "num_steps"),
    (lambda: NoiseSchedule.cosine(2.5), "num_steps"),
    (lambda: NoiseSchedule.from_name("quadratic", 10), "name"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), 1000), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), -1), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), 1.0), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), torch.tensor([1.0, 2.0])), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), torch.tensor([1, 2, 3])), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), torch.zeros(2, 1, dtype=torch.long)), "t"),
    (lambda: SCHEDULES["linear"].q_sample(torch.zeros(2, 3), 1, noise=torch.zeros(2, 4)), "noise"),
    (lambda: SCHEDULES["linear"].q_posterior(torch.zeros(2, 3), torch.zeros(2, 4), 1), "x0"),
    (lambda: SCHEDULES["linear"].to_x0_and_eps(torch.zeros(2), torch.zeros(2), 1, "score"), "prediction"),
    (lambda: SCHEDULES["linear"].get_v(torch.zeros(2), torch.zeros(3), 1), "x0"),
])
def test_bad_arguments_raise_value_error_naming_them(call, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        call()
