"""Contracts as the notices say them: periods and options, agreements, expiries."""
