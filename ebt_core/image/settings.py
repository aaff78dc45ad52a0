"""Denoising's limits and defaults, importable without torch (the app lays out its Denoise tab
with them before any model is needed); `image/denoise.py` re-exports them."""

MAX_DENOISE_STEPS = 1000
DEFAULT_EBT_STEPS = 2  # the paper's test-time setting (1 step in training)
# Energy-aware stopping per tile (DenoiseConfig.tolerance = None): a tile whose mean patch
# energy changes by less than this in one step stops moving. Chosen on the validation photos
# (128 px, noise 0.02–0.5) for the shipped image-ebt: every value from 3e-4 to 1e-2 left its
# 2-step PSNR unchanged and 8 steps within 0.2 dB of it; 2e-3 keeps the compute tracking the
# difficulty (a tile moves 2.1 of 8 allowed steps at noise 0.02, 5.8 at 0.5; 1e-2: 2.0–4.2).
DEFAULT_EBT_TOLERANCE = 2e-3
