"""Image models: the denoising EBT and its DiT baseline (sampled with `ddim.py`), photos, tiles,
training and `denoise`."""
