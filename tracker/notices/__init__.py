"""Notices: the eForms and legacy TED readers, ingest, harvest state and search."""
