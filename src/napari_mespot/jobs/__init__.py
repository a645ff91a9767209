"""Orchestration above the science: many videos on dask (batch) and retraining from sessions."""
