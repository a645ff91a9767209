"""Optical flow: the methods behind one signature, batching, per-region flows, display fields."""
