"""The reverse process: turn noise x_T into data x₀ with a trained denoiser, a few steps at a time.

Papers
    DDPM — Ho, Jain & Abbeel 2020, arXiv 2006.11239: ancestral sampling, x_{t−1} ~ q(x_{t−1} | x_t, x̂₀) (eq. 6-7)
    DDIM — Song, Meng & Ermon 2021, arXiv 2010.02502: eq. (12) (the generalised step) and eq. (16) (σ_t(η))
    classifier-free guidance — Ho & Salimans 2022, arXiv 2207.12598, eq. (6)
    spacings "leading"/"trailing" — Lin et al. 2023, arXiv 2305.08891, table 2
    flow matching — Euler and Heun on dx/dσ = v(x, σ) (flow.py; Esser et al. 2024, arXiv 2403.03206, eq. 1–4),
        with SD3's shift of σ (eq. 23) on the σ grid of diffusers' FlowMatchEulerDiscreteScheduler (flow.flow_sigmas)

Conventions are those of diffusers' DDPMScheduler / DDIMScheduler with clip_sample=False, set_alpha_to_one=True,
steps_offset=0, variance "fixed_small", no thresholding: timesteps count 0 … T−1, ᾱ of "the step before 0" is 1,
and a DDIM step from t lands on t − T//n — with "trailing" and n not dividing T that can be one off the next listed
timestep (diffusers issue #9261; kept, to match). One exception: diffusers' "trailing" list gets an extra −1 for
some (T, n) (e.g. T=1000, n=61, from np.arange rounding); ours always has exactly n timesteps.

The loop is visible: `sample_loop(denoiser, sampler, x_T)` calls `denoiser(x_t, t, cond)` — any callable that
returns ε̂, v̂ or x̂₀ (the sampler's `prediction`) with the shape of x_t — then `sampler.step(...)`.
Shapes: x_t (B, …), e.g. latents (B, C, h, w); t passed to the denoiser as a (B,) LongTensor (a flow sampler's
σ·T as a (B,) float32 tensor).
"""
from __future__ import annotations

import numbers

import torch
from tqdm.auto import tqdm

from .flow import flow_sigmas, flow_x0
from .schedule import PREDICTIONS, NoiseSchedule, noise_like, predict_x0_and_eps


def _check_common(schedule, prediction) -> None:
    if not isinstance(schedule, NoiseSchedule):
        raise ValueError(f"schedule must be a NoiseSchedule, got {type(schedule).__name__}")
    if prediction not in PREDICTIONS:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")


def _check_output(model_output: torch.Tensor, x_t: torch.Tensor) -> None:
    if model_output.shape != x_t.shape:
        raise ValueError(f"model_output must have the shape of x_t, {tuple(x_t.shape)}, "
                         f"got {tuple(model_output.shape)}")


class DDIMSampler:
    """DDIM, Song et al. eq. (12), with n ≤ T steps and noise σ_t(η) of eq. (16); η = 0 is deterministic.

    Notation (name in code -> in the paper):
        alpha_bar, alpha_bar_prev -> α_t, α_{t−1} of DDIM (= ᾱ of DDPM) at t and at t_prev = t − T//n
        x0_pred -> f_θ(x_t) "predicted x₀";  eps_pred -> ε_θ(x_t);  sigma -> σ_t(η);  eta -> η
        direction -> "direction pointing to x_t";  x_prev -> x_{t−1} (i.e. x at t_prev)
    """

    def __init__(self, schedule: NoiseSchedule, num_inference_steps: int, eta: float = 0.0,
                 spacing: str = "leading", prediction: str = "epsilon"):
        _check_common(schedule, prediction)
        T = schedule.num_steps
        if not isinstance(num_inference_steps, numbers.Integral) or not 1 <= num_inference_steps <= T:
            raise ValueError(f"num_inference_steps must be an int in [1, {T}], got {num_inference_steps!r}")
        if not isinstance(eta, numbers.Real) or eta < 0:
            raise ValueError(f"eta must be a number >= 0, got {eta!r}")
        n = int(num_inference_steps)
        if spacing == "leading":     # 0, k, 2k, …, (n−1)k with k = T//n, descending
            timesteps = [i * (T // n) for i in reversed(range(n))]
        elif spacing == "trailing":  # round(T − i·T/n) − 1: starts at T−1, the noisiest step
            timesteps = [round(T - i * (T / n)) - 1 for i in range(n)]
        else:
            raise ValueError(f"spacing must be 'leading' or 'trailing', got {spacing!r}")
        self.schedule, self.num_inference_steps, self.eta = schedule, n, float(eta)
        self.spacing, self.prediction = spacing, prediction
        self.step_ratio = T // n                                  # t_prev = t − T//n
        self.timesteps = torch.tensor(timesteps, dtype=torch.long)  # (n,), descending

    def _alpha_bars(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ᾱ_t and ᾱ_{t_prev} in float64 on the CPU (t from check_timesteps), with ᾱ = 1 before step 0; the
        step's coefficients are computed there and reach x's device through `broadcast`, in x's dtype."""
        ab = self.schedule.alphas_cumprod
        t_prev = t - self.step_ratio
        return ab[t], torch.where(t_prev >= 0, ab[t_prev.clamp(min=0)], torch.ones_like(ab[t]))

    def step(self, model_output: torch.Tensor, t, x_t: torch.Tensor, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """x_{t_prev} from x_t. `noise` (shape of x_t) or a draw from `generator` is used only when eta > 0."""
        _check_output(model_output, x_t)
        # 1. the timestep we land on, t_prev = t − T//n, and ᾱ at both (ᾱ = 1 before step 0)
        t = self.schedule.check_timesteps(t, x_t)
        alpha_bar, alpha_bar_prev = self._alpha_bars(t)
        # 2. "predicted x₀" of eq. (12), and the ε̂ that goes with it, from whatever the network predicts
        x0_pred, eps_pred = predict_x0_and_eps(model_output, x_t, self.schedule.broadcast(alpha_bar, x_t),
                                               self.prediction)
        # 3. eq. (16): σ_t(η) = η·√((1−ᾱ_{t_prev})/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t_prev})
        variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)
        sigma = self.eta * variance.sqrt()
        # 4. eq. (12): "direction pointing to x_t" = √(1 − ᾱ_{t_prev} − σ_t²)·ε̂
        direction = self.schedule.broadcast((1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt(), x_t) * eps_pred
        # 5. eq. (12): x_{t_prev} = √ᾱ_{t_prev}·x̂₀ + direction + σ_t·z
        x_prev = self.schedule.broadcast(alpha_bar_prev.sqrt(), x_t) * x0_pred + direction
        if self.eta > 0:
            x_prev = x_prev + self.schedule.broadcast(sigma, x_t) * noise_like(x_t, noise, generator)
        return x_prev

    def invert_step(self, model_output: torch.Tensor, t, x_prev: torch.Tensor) -> torch.Tensor:
        """The η = 0 step run backwards: x_t from x_{t_prev}, with the denoiser evaluated at (x_{t_prev}, t)
        (the usual approximation, as diffusers' DDIMInverseScheduler): x_t = √ᾱ_t·x̂₀ + √(1−ᾱ_t)·ε̂, with x̂₀
        and ε̂ read from the output at x_{t_prev}'s own noise level ᾱ_{t_prev}."""
        _check_output(model_output, x_prev)
        t = self.schedule.check_timesteps(t, x_prev)
        alpha_bar, alpha_bar_prev = self._alpha_bars(t)
        if self.prediction == "x0" and bool((alpha_bar_prev == 1).any()):
            raise ValueError("prediction 'x0' cannot be inverted from x₀ itself (ᾱ_{t_prev} = 1 leaves no noise "
                             "to read ε̂ from); use 'epsilon' or 'v'")
        x0_pred, eps_pred = predict_x0_and_eps(model_output, x_prev, self.schedule.broadcast(alpha_bar_prev, x_prev),
                                               self.prediction)
        return self.schedule.broadcast(alpha_bar.sqrt(), x_prev) * x0_pred \
            + self.schedule.broadcast((1 - alpha_bar).sqrt(), x_prev) * eps_pred

    def __repr__(self) -> str:
        return (f"DDIMSampler(n={self.num_inference_steps}, eta={self.eta}, spacing={self.spacing!r}, "
                f"prediction={self.prediction!r})")


class DDPMSampler:
    """Ancestral sampling, DDPM: x_{t−1} ~ N(μ̃_t(x_t, x̂₀), β̃_t·I) for t = T−1 … 0 (eq. 6-7, "fixed_small").

    Notation: x0_pred -> x̂₀ (from ε̂ by eq. 15);  mean -> μ̃_t;  variance -> β̃_t;  x_prev -> x_{t−1}.
    """

    def __init__(self, schedule: NoiseSchedule, prediction: str = "epsilon"):
        _check_common(schedule, prediction)
        self.schedule, self.prediction = schedule, prediction
        self.num_inference_steps = schedule.num_steps
        self.step_ratio = 1                                            # t_prev = t − 1: every step is walked
        self.timesteps = torch.arange(schedule.num_steps - 1, -1, -1)  # (T,), T−1 … 0

    def step(self, model_output: torch.Tensor, t, x_t: torch.Tensor, noise: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """x_{t−1} from x_t; `noise` (shape of x_t) or a draw from `generator` unless every t is 0."""
        _check_output(model_output, x_t)
        t = self.schedule.check_timesteps(t, x_t)
        # 1. x̂₀ from the network's output (eq. 15 for ε̂)
        x0_pred, _ = self.schedule.to_x0_and_eps(model_output, x_t, t, self.prediction)
        # 2. eq. (7): μ̃_t = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x̂₀ + √α_t·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t, and β̃_t (0 at t = 0)
        mean, variance = self.schedule.q_posterior(x0_pred, x_t, t)
        # 3. x_{t−1} = μ̃_t + √β̃_t·z, no noise at t = 0
        if bool((t == 0).all()):
            return mean
        return mean + variance.sqrt() * noise_like(x_t, noise, generator)

    def __repr__(self) -> str:
        return f"DDPMSampler(T={self.num_inference_steps}, prediction={self.prediction!r})"


class FlowSampler:
    """The σ grid of a flow-matching sampler and what its subclasses share; ``step`` is Euler's or Heun's.

    Notation (name in code -> in the papers):
        sigma, sigma_next -> σ_i, σ_{i+1} of diffusers = t of Esser et al. 2024 (noise at 1, data at 0; flow.py)
        sigmas -> (n+1,) grid from 1 down to 0, SD3's shift σ' = s·σ/(1 + (s−1)·σ) applied (``flow.flow_sigmas``)
        timesteps -> σ_i·T, (n,): what the U-Net reads as its timestep;  v -> v̂ = v_θ(x, σ), the velocity
        x_t -> x at σ_i;  x_next -> x at σ_{i+1}
    ``step(v, i, x_t, velocity)`` takes the step from σ_i to σ_{i+1}: i indexes the grid (float timesteps make
    poor keys), v is the (guided) velocity at (x_t, σ_i), and ``velocity(x, sigma)`` evaluates it elsewhere.
    """
    evaluations_per_step = 1  # network evaluations per step (classifier-free guidance doubles each one)

    def __init__(self, num_inference_steps: int, shift: float = 1.0, num_train_timesteps: int = 1000):
        self.sigmas = flow_sigmas(num_inference_steps, shift)  # (n+1,), 1 … 0
        self.num_inference_steps, self.shift = int(num_inference_steps), float(shift)
        self.num_train_timesteps = num_train_timesteps

    @property
    def timesteps(self) -> torch.Tensor:
        """σ_i·T for the n steps (n,), float32, descending (as diffusers' ``timesteps``)."""
        return self.sigmas[:-1] * self.num_train_timesteps

    def _check_step(self, v: torch.Tensor, i, x_t: torch.Tensor) -> tuple[float, float]:
        _check_output(v, x_t)
        if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 <= i < len(self.sigmas) - 1:
            raise ValueError(f"i must be a step index in [0, {len(self.sigmas) - 1}), got {i!r}")
        return float(self.sigmas[i]), float(self.sigmas[i + 1])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self.sigmas) - 1}, shift={self.shift:g})"


class FlowEulerSampler(FlowSampler):
    """Euler's method on the flow ODE dx/dσ = v(x, σ): x_{i+1} = x_i + (σ_{i+1} − σ_i)·v̂_i, one evaluation a
    step (diffusers' FlowMatchEulerDiscreteScheduler.step). With the true velocity of one straight path the first
    step already lands on its x₀: the path is straight; a learned field is an average of paths and curves."""

    def step(self, v: torch.Tensor, i: int, x_t: torch.Tensor, velocity=None) -> torch.Tensor:
        sigma, sigma_next = self._check_step(v, i, x_t)
        return x_t + (sigma_next - sigma) * v                 # σ_{i+1} < σ_i: a step toward the data


class FlowHeunSampler(FlowSampler):
    """Heun's method (the trapezoid rule, Karras et al. 2022, arXiv 2206.00364, Algorithm 1), two evaluations a
    step, on every step — the flow's field is defined at σ = 0, so the last step needs no Euler fallback (Karras
    and diffusers' Heun schedulers skip its correction, 2n − 1 evaluations; here n steps cost 2n).
        1. predictor: x̃ = x_i + (σ_{i+1} − σ_i)·v̂(x_i, σ_i)                      (Euler)
        2. corrector: x_{i+1} = x_i + (σ_{i+1} − σ_i)·(v̂(x_i, σ_i) + v̂(x̃, σ_{i+1}))/2
    Exact when v depends on σ only, affinely; second-order accurate otherwise."""
    evaluations_per_step = 2

    def step(self, v: torch.Tensor, i: int, x_t: torch.Tensor, velocity=None) -> torch.Tensor:
        sigma, sigma_next = self._check_step(v, i, x_t)
        if velocity is None:
            raise ValueError("velocity: Heun needs velocity(x, sigma) for its second evaluation")
        x_pred = x_t + (sigma_next - sigma) * v                # 1. predictor
        v_next = velocity(x_pred, sigma_next)                  # v̂ at the end of the step
        return x_t + (sigma_next - sigma) * (v + v_next) / 2   # 2. corrector


def classifier_free_guidance(cond_out: torch.Tensor, uncond_out: torch.Tensor, scale: float) -> torch.Tensor:
    """Ho & Salimans eq. (6), in ε- (or v-) space: ε̃ = ε(x, ∅) + s·(ε(x, c) − ε(x, ∅)); s = 1 gives ε(x, c)."""
    if cond_out.shape != uncond_out.shape:
        raise ValueError(f"cond_out and uncond_out must have the same shape, got {tuple(cond_out.shape)} "
                         f"and {tuple(uncond_out.shape)}")
    if scale == 1:
        return cond_out
    return uncond_out + scale * (cond_out - uncond_out)


def guided_output(denoiser, x_t: torch.Tensor, t: int | float, cond, uncond, guidance: float | None) -> torch.Tensor:
    """denoiser(x_t, t, cond) with t as a (B,) tensor on x_t's device — a LongTensor for an int t, float32 for a
    flow model's float σ·T — guided by eq. (6) with `uncond` unless guidance is None or 1 (two calls: the
    condition can be anything, so no batching). Every loop calls this."""
    dtype = torch.float32 if isinstance(t, float) else torch.long
    t_batch = torch.full((x_t.shape[0],), t, dtype=dtype, device=x_t.device)  # (B,)
    out = denoiser(x_t, t_batch, cond)
    if guidance is None or guidance == 1:
        return out
    return classifier_free_guidance(out, denoiser(x_t, t_batch, uncond), guidance)


def _check_loop_args(sampler, x, uncond, guidance) -> None:
    if not isinstance(sampler, (DDIMSampler, DDPMSampler, FlowSampler)):
        raise ValueError(f"sampler must be a DDIMSampler, a DDPMSampler or a FlowSampler, got {type(sampler).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise ValueError("x_T/x0 must be a tensor of shape (B, …)")
    if guidance is not None and guidance != 1 and uncond is None:
        raise ValueError(f"uncond must be given when guidance != 1 (got guidance={guidance})")


@torch.no_grad()
def sample_loop(denoiser, sampler, x_T: torch.Tensor, cond=None, uncond=None, guidance: float | None = None,
                generator: torch.Generator | None = None, return_trajectory: bool = False, progress: bool = False):
    """Run `sampler` from x_T to x₀: at each t of `sampler.timesteps`, out = denoiser(x_t, t, cond) (guided
    with `uncond` when guidance is not None), then x_t <- sampler.step(out, t, x_t, generator=generator).

    A flow sampler (``FlowSampler``) runs ``flow_sample_loop`` instead (no noise: ``generator`` is not used).

    Returns x₀, or (x₀, trajectory) with trajectory a dict of
        "timesteps": (S,) LongTensor, the t of each step (S = len(sampler.timesteps));
        "x_t":       (S+1, B, …), x_T first, then x after each step (the last one is x₀);
        "x0_pred":   (S, B, …), the predicted x̂₀ at each step.
    """
    _check_loop_args(sampler, x_T, uncond, guidance)
    if isinstance(sampler, FlowSampler):
        return flow_sample_loop(denoiser, sampler, x_T, cond, uncond, guidance, return_trajectory, progress)
    x_t = x_T
    xs, x0_preds = [x_T], []
    for t in tqdm(sampler.timesteps.tolist(), disable=not progress, desc="sampling"):
        out = guided_output(denoiser, x_t, t, cond, uncond, guidance)
        if return_trajectory:
            x0_preds.append(sampler.schedule.to_x0_and_eps(out, x_t, t, sampler.prediction)[0])
        x_t = sampler.step(out, t, x_t, generator=generator)
        if return_trajectory:
            xs.append(x_t)
    if not return_trajectory:
        return x_t
    return x_t, {"timesteps": sampler.timesteps.clone(), "x_t": torch.stack(xs), "x0_pred": torch.stack(x0_preds)}


@torch.no_grad()
def ddim_invert(denoiser, sampler: DDIMSampler, x0: torch.Tensor, cond=None, uncond=None,
                guidance: float | None = None, progress: bool = False) -> torch.Tensor:
    """DDIM with η = 0 run forwards: x₀ -> x_T through `sampler.timesteps` in ascending order. Sampling the
    result with the same sampler gives back x₀ up to the discretisation error (exact as n -> T, for a smooth ε̂)."""
    _check_loop_args(sampler, x0, uncond, guidance)
    if not isinstance(sampler, DDIMSampler) or sampler.eta != 0:
        raise ValueError(f"sampler must be a DDIMSampler with eta=0 to be inverted, got {sampler!r}")
    x = x0
    for t in tqdm(sampler.timesteps.flip(0).tolist(), disable=not progress, desc="inverting"):
        x = sampler.invert_step(guided_output(denoiser, x, t, cond, uncond, guidance), t, x)
    return x


@torch.no_grad()
def flow_sample_loop(denoiser, sampler: FlowSampler, x_T: torch.Tensor, cond=None, uncond=None,
                     guidance: float | None = None, return_trajectory: bool = False, progress: bool = False):
    """Integrate the flow ODE from x_T at σ = sampler.sigmas[0] to σ = 0: at each σ_i, v = denoiser(x, σ_i·T,
    cond) (guided with `uncond` by eq. (6) on the velocity), then x <- sampler.step(v, i, x, velocity).

    Returns x₀, or (x₀, trajectory) as ``sample_loop``'s: "timesteps" (S,) float σ_i·T, "sigmas" (S+1,),
    "x_t" (S+1, B, …) and "x0_pred" (S, B, …) with x̂₀ = x − σ_i·v̂ (flow.flow_x0)."""
    _check_loop_args(sampler, x_T, uncond, guidance)
    T = sampler.num_train_timesteps

    def velocity(x: torch.Tensor, sigma: float) -> torch.Tensor:  # v̂(x, σ), (B, …): the U-Net reads σ·T
        return guided_output(denoiser, x, float(sigma) * T, cond, uncond, guidance)

    x, xs, x0_preds = x_T, [x_T], []
    for i, sigma in enumerate(tqdm(sampler.sigmas[:-1].tolist(), disable=not progress, desc="sampling")):
        v = velocity(x, sigma)
        if return_trajectory:
            x0_preds.append(flow_x0(x, v, sigma))
        x = sampler.step(v, i, x, velocity)
        if return_trajectory:
            xs.append(x)
    if not return_trajectory:
        return x
    return x, {"timesteps": sampler.timesteps.clone(), "sigmas": sampler.sigmas.clone(), "x_t": torch.stack(xs),
               "x0_pred": torch.stack(x0_preds)}
