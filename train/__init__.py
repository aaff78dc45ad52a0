"""Training scripts: `python train/train_text.py RECIPE`, `python train/train_image.py RECIPE`
(or `python -m train.train_text RECIPE`); recipes in train/recipes/, shared plumbing in
train/common.py."""
