"""The Scrapy project: spiders for Doffin, TED and the business register.

Spiders only yield requests and items; ``spiders.pipelines.TrackerPipeline`` stores
everything through ``tracker`` (the same ingest path as ``tracker ingest``).
"""
