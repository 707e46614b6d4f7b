"""Market and competitor intelligence: read models over the stored contract facts.

One module per question, each returning frozen dataclasses that the dashboards, the
JSON API and the exports all use:

- ``supplier``: a supplier's wins by buyer, CPV and year, agreements held now, where it
  meets us;
- ``buyer``: a buyer's purchases, procedures, terms and options, extension habit,
  competition intensity and price weight;
- ``bidders``: likely bidders for a coming re-tender or an open competition;
- ``director``: expiring value by quarter, share of wallet, win/loss, coverage by KAM.

The pages read summaries rather than adding up every contract per request: ``facts``
(per party, counterpart, account month and expiry month; ``rebuild``), ``changes`` (how
the derive step, agreement imports and relinking keep them: the difference of what the
changed contracts add), ``buyer_notices`` (a buyer's award, competition and
modification notices as its page reads them), ``supplier_facts`` (the sums per supplier:
"ours" is added up over our keys when read) and ``buyer_terms`` (a buyer's terms and
procedures).

Everything is counted per lot and supplier (one ``contracts`` row per lot and winner
group) and values stay per currency and value kind (``common.ValueSum``): a framework
maximum is never added to tender values, and a ceiling shared by parallel suppliers is
never added at all (it is counted, not summed).
"""
