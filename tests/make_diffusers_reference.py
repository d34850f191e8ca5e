"""Write tests/data/diffusers_reference.json: DDIM and DDPM steps computed by diffusers, so that
tests/test_samplers.py can compare our samplers with them on every run without installing diffusers.

Run by hand where diffusers is installed (it is not a dependency of the project; it needs no GPU):

    pip install diffusers            # in any environment that has torch
    python tests/make_diffusers_reference.py

The file records, for each case, diffusers' version, its scheduler settings and the timesteps of
``set_timesteps(n)``, and for a few timesteps the inputs (x_t, the model output, the variance noise z) and
diffusers' ``prev_sample``. Everything is float64: diffusers' ᾱ table is replaced by the same schedule computed
here in float64 from the papers' formulas (DDPM sec. 4: β = linspace(β₁, β_T, T); improved DDPM eq. 17, capped
at 0.999, diffusers' "squaredcos_cap_v2") — neither this script nor the JSON uses minigptimage's code. diffusers'
own float32 tables agree with these to ~1e-7 (relative), its float32 steps to ~2e-4.

The cases are chosen to catch what the live test catches: η > 0 with n < T (σ_t of DDIM eq. 16 uses
1 − ᾱ_t/ᾱ_{t_prev}, which is β_t only when n = T), both spacings, n that does not divide T (the t − T//n landing
point), all three prediction types, and DDPM's last step (no noise at t = 0).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parent / "data" / "diffusers_reference.json"
PREDICTIONS = {"epsilon": "epsilon", "v": "v_prediction", "x0": "sample"}
# (name, T, β₁, β_T): "linear" at T = 100 is the project's scaled preset (β·1000/T, improved DDPM)
SCHEDULES = [("linear", 1000, 1e-4, 0.02), ("cosine", 1000, None, None), ("linear", 100, 1e-3, 0.2)]
# (spacing, n, eta)
DDIM_CASES = [("leading", 7, 0.5), ("trailing", 20, 1.0), ("trailing", 61, 0.3), ("leading", 20, 0.0),
              ("trailing", 3, 0.0)]
SHAPE = (1, 3)  # x_t, model output and noise: small, the formulas are elementwise


def betas64(name: str, T: int, beta_start, beta_end) -> torch.Tensor:
    if name == "linear":
        return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    f = lambda u: math.cos((u + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    return torch.tensor([min(1 - f((i + 1) / T) / f(i / T), 0.999) for i in range(T)], dtype=torch.float64)


def draw(g: torch.Generator) -> torch.Tensor:
    return torch.randn(SHAPE, generator=g, dtype=torch.float64)


def numbers(x: torch.Tensor) -> list[float]:
    """15 significant digits: the tests compare to 1e-10, and the file stays small."""
    return [float(f"{v:.15g}") for v in x.flatten().tolist()]


def main() -> None:
    import diffusers
    g = torch.Generator().manual_seed(2024)
    cases = []
    for (name, T, b1, bT), prediction in ((s, p) for s in SCHEDULES for p in PREDICTIONS):
        alphas_cumprod = torch.cumprod(1 - betas64(name, T, b1, bT), dim=0)
        kw = dict(num_train_timesteps=T, beta_schedule="linear" if name == "linear" else "squaredcos_cap_v2",
                  clip_sample=False, prediction_type=PREDICTIONS[prediction])
        if name == "linear":
            kw.update(beta_start=b1, beta_end=bT)
        schedule = {"name": name, "T": T, "beta_start": b1, "beta_end": bT}
        for spacing, n, eta in DDIM_CASES:
            sched = diffusers.DDIMScheduler(**kw, set_alpha_to_one=True, steps_offset=0, timestep_spacing=spacing)
            sched.alphas_cumprod = alphas_cumprod.clone()
            sched.set_timesteps(n)
            timesteps = sched.timesteps.tolist()
            valid = [t for t in timesteps if t >= 0]  # "trailing" can end in a −1 (np.arange rounding)
            chosen = sorted({valid[0], valid[len(valid) // 2], valid[-1]}, reverse=True)
            steps = []
            for t in chosen:
                x, out, z = draw(g), draw(g), draw(g)
                prev = sched.step(out, t, x, eta=eta, variance_noise=z).prev_sample
                steps.append({"t": t, "x_t": numbers(x), "model_output": numbers(out), "noise": numbers(z),
                              "prev_sample": numbers(prev)})
            cases.append({"sampler": "ddim", "schedule": schedule, "prediction": prediction, "spacing": spacing,
                          "n": n, "eta": eta, "timesteps": timesteps, "steps": steps})
        sched = diffusers.DDPMScheduler(**kw, variance_type="fixed_small")
        sched.alphas_cumprod = alphas_cumprod.clone()
        steps = []
        for t in (T - 1, T // 2, 1, 0):
            x, out = draw(g), draw(g)
            seed = int(torch.randint(0, 2**31, (1,), generator=g))
            # diffusers draws its variance noise as randn(shape, generator) in the output's dtype: the same z
            z = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
            prev = sched.step(out, t, x, generator=torch.Generator().manual_seed(seed)).prev_sample
            steps.append({"t": t, "x_t": numbers(x), "model_output": numbers(out), "noise": numbers(z),
                          "prev_sample": numbers(prev)})
        cases.append({"sampler": "ddpm", "schedule": schedule, "prediction": prediction,
                      "timesteps_head": sched.timesteps[:3].tolist(), "steps": steps})
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps({"diffusers": diffusers.__version__, "written_by": "tests/make_diffusers_reference.py",
                               "cases": cases}, indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases, {OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
