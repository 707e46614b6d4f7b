"""Ingest: parse notices and store them idempotently (the one path every source uses).

API contract (used by ``tracker ingest``, the Scrapy pipeline and the scheduler):

    with Ingestor(engine, source="doffin", run_id=run.id) as ing:
        outcome = ing.add(xml_bytes, location="https://.../download/2024-110489",
                          source_id="2024-110489", source_meta={"publicationDate": ...})
        ...                      # outcomes are final once flush() has returned
        ing.flush()              # commit the pending batch (also done every ``batch_size``)
    ing.counts                   # {"read", "new", "updated", "unchanged", "failed"}

``IngestOutcome.status`` is one of new|updated|unchanged|failed. A failed notice is
recorded in ``ingest_errors`` with its reason and nothing stored before is touched.
After each committed batch ``tracker.derive.after_ingest(session, notice_pks)`` runs
(contracts and account links).
"""

from __future__ import annotations

raise NotImplementedError("tracker.ingest is being implemented (issue 2)")
