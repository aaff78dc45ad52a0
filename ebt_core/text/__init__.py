"""Character-level text models: the autoregressive text EBT, its Transformer++ baseline, their
data, training objectives and inference (`think`, `score`, `predict_next`)."""
