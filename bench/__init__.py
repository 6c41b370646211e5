"""Checkout benchmark harness (see bench/run.py)."""
