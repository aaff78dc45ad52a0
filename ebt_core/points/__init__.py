"""The 2-D point EBT: sequences of points in the plane, a candidate ŷ ∈ R² whose energy
landscape can be drawn exactly (tasks, model, training objectives, thinking)."""
