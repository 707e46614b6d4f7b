"""The web app for KAMs, bid teams and sales directors (FastAPI + Jinja2, server-rendered)."""
