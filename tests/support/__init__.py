"""Helpers that test modules share: test modules import from here (or tests/factories.py),
never from one another."""
