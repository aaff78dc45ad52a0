"""Character-level text models: the autoregressive text EBT and its Transformer++ baseline, their
data and training objectives, and inference (`think.py`: `think`, `score`; `baseline.py`:
`predict_next`)."""
