"""The Scrapy project: spiders for Doffin, TED and the business register.

Spiders only yield requests and items (``spiders.items``) and open no database session:
what they need to know comes from the extensions (``spiders.extensions``), and the
pipelines (``spiders.pipelines``, one job each) store the items through ``tracker`` (the
same ingest path as ``tracker ingest``).
"""
