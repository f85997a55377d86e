"""Scores from audit results, and the submission summaries they are computed with."""
