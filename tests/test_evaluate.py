"""Evaluation and the prompt benchmark: which items each family asks for, and colour binding scored right."""
import torch

from minigptimage import captions, layout
from minigptimage.benchmarks import prompts
from minigptimage.evaluate import evaluation_samples, score_images
from minigptimage.glyphs import is_heldout_text, load_words
from minigptimage.reader import GlyphReader


def test_evaluation_captions_name_both_colours_and_the_place():
    for s in evaluation_samples("heldout", 12):
        parsed = layout.parse_prompt(s.caption)
        assert (parsed.text_color, parsed.background, parsed.region) == (s.color, s.background, s.position)


def test_each_family_asks_for_held_out_text_in_its_phrasing():
    heldout_words = set(load_words("heldout"))
    wanted = {"training phrasings": "train", "held-out phrasings": "heldout", "held-out vocabulary": "heldout-vocab"}
    for name in prompts.FAMILIES:
        samples = prompts.family_samples(name, 6)
        assert len(samples) == 6
        for s in samples:
            words = s.text.split()
            assert all(w.upper() in heldout_words for w in words) or is_heldout_text(s.text) or len(s.text) <= 2
            family = wanted.get(name, "train")
            pool = captions.forms("heldout-vocab") if family == "heldout-vocab" else captions.all_forms()
            caption_forms = {f for f in pool
                             if s.caption in {captions.fill(f, s.text, s.color, s.background, s.position, place=p,
                                                            comma=c, stop=t, capital=k)
                                              for p in range(4) for c in (0, 1) for t in (0, 1) for k in (0, 1)}}
            assert caption_forms and (family == "heldout-vocab"  # its own forms, outside the phrasing split
                                      or all(captions.is_heldout(f) == (family == "heldout") for f in caption_forms))
        if name == "7–10 characters":
            assert all(7 <= len(s.text) <= 10 for s in samples)
        if name == "two words":
            assert all(len(s.text.split()) == 2 for s in samples)


def test_colour_binding_needs_both_colours():
    """A render scores binding 1; the same render with text and background colours swapped scores 0 on
    binding and on text colour."""
    samples = evaluation_samples("heldout", 4)
    images = torch.stack([s.image for s in samples])
    reader = GlyphReader.pretrained()
    right = score_images(images, samples, reader, "renders", 0.0)
    assert right.binding_acc == 1.0 and right.colour_acc == 1.0
    swapped = [s.__class__(**{**s.__dict__, "color": s.background, "background": s.color}) for s in samples]
    wrong = score_images(images, swapped, reader, "swapped", 0.0)
    assert wrong.binding_acc == 0.0 and wrong.colour_acc == 0.0 and wrong.word_acc == right.word_acc


def test_benchmark_runs_end_to_end_on_a_micro_model(tmp_path):
    from minigptimage.pipeline import MiniGPTImage
    model, reader = MiniGPTImage.from_preset("micro"), GlyphReader.pretrained()
    score, _ = prompts.run_family(model, reader, "two words", 2, steps=1)
    assert score.n == 2 and 0 <= score.binding_acc <= 1 and score.seconds_per_image > 0
    by_length = prompts.binding_by_length(model, reader, 1, steps=1, lengths=(3, 8))
    prompts.plot_by_length({"micro": by_length}, tmp_path / "fig.png")
    assert set(by_length) == {3, 8} and (tmp_path / "fig.png").stat().st_size > 0


def test_vae_ceiling_reads_clean_renders_and_a_broken_vae_loses_them():
    from minigptimage.vae import VAE
    reader, vae = GlyphReader.pretrained(), VAE.pretrained()
    clean, round_trip = prompts.vae_ceiling(vae, reader, "training phrasings", 8)
    assert clean >= 0.75 and round_trip >= 0.5  # the shipped reader and VAE keep short words readable
    with torch.no_grad():
        for p in vae.parameters():
            p.zero_()  # a VAE that decodes everything to one flat image
    assert prompts.vae_ceiling(vae, reader, "training phrasings", 8) == (clean, 0.0)


def test_ceiling_command_prints_a_row_per_family(capsys):
    assert prompts.main(["--ceiling", "--n", "2"]) == 0
    out = capsys.readouterr().out
    assert "latent 8 × (side / 4)²" in out and all(f"| {name} |" in out for name in prompts.FAMILIES)
