"""Alerts: subscriptions, generation, channels and delivery."""
