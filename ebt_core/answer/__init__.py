"""Whole-answer EBTs (sums, 4×4 Sudoku): an answer's K positions are descended jointly."""
