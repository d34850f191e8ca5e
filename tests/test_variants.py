"""The three variants of the comparison (lesson 14): each builds, trains a few steps, saves, loads and samples."""
import pytest
import torch

from minigptimage.pipeline import MiniGPTImage
from minigptimage.train import TrainConfig, Trainer
from minigptimage.training_data import word_tokenizer

PROMPTS = ['the word "CAT" in red on white, in the center', '"ZYX" in blue letters on yellow, at the top']


@pytest.mark.parametrize("preset", ["micro", "micro-noglyph", "micro-word"])
def test_each_variant_trains_saves_loads_and_samples(preset, tmp_path):
    model = MiniGPTImage.from_preset(preset, tokenizer=word_tokenizer(captions=2000) if preset.endswith("word") else None)
    trainer = Trainer(model, TrainConfig(batch_size=4, vae_steps=1, vae_batch_size=2), tmp_path,
                      log=lambda m: None)
    path = trainer.run(total_steps=2)
    assert len(trainer.losses) == 2 and all(loss == loss for loss in trainer.losses)
    loaded = MiniGPTImage.load(path)
    assert loaded.config == model.config  # the checkpoint records the variant
    assert loaded.config.glyph == (preset == "micro") and hasattr(loaded.unet, "glyph_branch") == loaded.config.glyph
    assert type(loaded.tokenizer).__name__ == ("WordTokenizer" if preset == "micro-word" else "CharTokenizer")
    images = loaded.generate(PROMPTS, steps=3, seed=1)
    assert images.shape == (2, 3, 64, 64) and torch.isfinite(images).all()
    assert torch.equal(images, trainer.ema_model().generate(PROMPTS, steps=3, seed=1))
    cond = loaded.condition(PROMPTS)
    assert ("glyph" in cond) == loaded.config.glyph  # no canvas without the glyph path


def test_the_word_variant_sees_an_unknown_word_as_one_unk_token():
    model = MiniGPTImage.from_preset("micro-word", tokenizer=word_tokenizer(captions=2000))
    tok = model.tokenizer
    ids, _ = tok.encode(['the word "ZYX" in red on white'], 96)
    assert tok.unk_id in ids[0].tolist()
    ids2, _ = tok.encode(['the word "QQQ" in red on white'], 96)
    assert torch.equal(ids, ids2)  # two unseen words look the same to it
    ids3, _ = tok.encode(['the word "ZYX" in the style of the image'], 96)
    assert ids3[0].tolist().count(tok.unk_id) == 1  # the reference prompt's own words are in its vocabulary
