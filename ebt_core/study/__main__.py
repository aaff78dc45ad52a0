"""`python -m ebt_core.study`: run the evaluation study (see ebt_core/study/run.py)."""

from .run import cli_main

cli_main()
