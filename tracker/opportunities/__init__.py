"""Opportunities: influence windows (pure), relevance, building timelines."""
