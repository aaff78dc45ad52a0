"""EBT Explorer's front ends: `main.py` (Gradio) and the figure builders they share."""
