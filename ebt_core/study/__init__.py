"""The evaluation study, its report and the benchmarks: tools built on the library, not part of it.

python -m ebt_core.study --out assets/report     # regenerate the shipped report
python -m ebt_core.study.bench --quick --json    # KV-cache benchmark
"""
