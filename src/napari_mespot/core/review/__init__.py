"""Reviewing spotted intervals: the track model, the JSON sidecar session, export."""
