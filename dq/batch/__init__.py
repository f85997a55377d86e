"""Scoring a whole batch of units: in one process (threads) or on a Dask cluster."""
