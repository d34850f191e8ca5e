"""minigptimage: a minimal, from-scratch, educational GPT-Image-1-style text-to-image system.

A prompt goes through three components:

1. the multimodal prompt encoder  — tokenizer.py, encoder.py, layout.py
2. the diffusion core             — schedule.py, samplers.py, unet.py
3. the latent-to-image decoder    — vae.py

pipeline.py ties them together (``MiniGPTImage``).

Shape letters used in comments throughout the package:
    B  batch size
    C  channels (3 for RGB images, ``latent_channels`` for latents)
    H, W  image height and width in pixels;  h, w  latent height and width
    L  prompt length in tokens;  D  model (embedding) width
    T  number of diffusion steps;  N  number of heads or patches (said where used)
Images are float tensors in [-1, 1]; masks use 1 = the region to (re)paint; token masks use
True = a real token.
"""

__version__ = "0.1.0"
