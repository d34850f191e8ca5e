import pytest
import torch

from minigptimage.benchmarks.two_experts import generate_with_experts
from minigptimage.pipeline import MiniGPTImage

PROMPTS = ['the word "AB" in red on white', 'the word "CD" in blue on yellow']


def two_micro_models():
    torch.manual_seed(0)
    noisy = MiniGPTImage.from_preset("micro")
    torch.manual_seed(1)
    clean = MiniGPTImage.from_preset("micro")
    clean.vae.load_state_dict(noisy.vae.state_dict())  # one latent space
    with torch.no_grad():  # an untrained U-Net's zero output layer would make every model predict the same 0
        for model in (noisy, clean):
            for p in model.unet.parameters():
                p.add_(0.05 * torch.randn_like(p))
    return noisy.eval(), clean.eval()


def test_each_end_of_tau_is_one_model_alone_and_a_split_is_neither():
    noisy, clean = two_micro_models()
    T = noisy.schedule.num_steps
    assert torch.equal(generate_with_experts(noisy, clean, PROMPTS, -1, steps=4, seed=3),
                       noisy.generate(PROMPTS, steps=4, seed=3))
    assert torch.equal(generate_with_experts(noisy, clean, PROMPTS, T, steps=4, seed=3),
                       clean.generate(PROMPTS, steps=4, seed=3))
    split = generate_with_experts(noisy, clean, PROMPTS, T // 2, steps=4, seed=3)
    assert not torch.equal(split, noisy.generate(PROMPTS, steps=4, seed=3))
    assert not torch.equal(split, clean.generate(PROMPTS, steps=4, seed=3))


def test_two_models_with_different_vaes_are_refused():
    noisy, clean = two_micro_models()
    with torch.no_grad():
        next(clean.vae.parameters()).add_(1.0)
    with pytest.raises(ValueError, match="share one VAE"):
        generate_with_experts(noisy, clean, PROMPTS, 500, steps=4)


def test_the_command_prints_a_row_per_family_and_tau(tmp_path, capsys):
    from minigptimage.benchmarks.two_experts import main
    noisy, clean = two_micro_models()
    noisy.save(tmp_path / "noisy.pt")
    clean.save(tmp_path / "clean.pt")
    main(["--noisy", str(tmp_path / "noisy.pt"), "--clean", str(tmp_path / "clean.pt"), "--tau", "-1", "500",
          "--n", "2", "--family", "training phrasings", "two words"])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "%" in line]
    assert [row.split(" | ")[:2] for row in rows] == [["| training phrasings", "-1"], ["| training phrasings", "500"],
                                                     ["| two words", "-1"], ["| two words", "500"]]
