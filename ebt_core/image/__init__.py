"""Image models: the denoising EBT and its DiT baseline, photos, tiles, training and `denoise`."""
