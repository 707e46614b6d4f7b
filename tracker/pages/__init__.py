"""One read model per question: the dashboards, the CLI, the JSON API and the exports call
these queries and show what they return.

Each module answers one question (``accounts``, ``expiries``, ``incumbency``,
``suggested_links``...) with a query function that returns frozen dataclasses; the
callers turn them into JSON, table cells or template values with
``dataclasses.asdict`` (``tracker.pages.base.plain``) at their edge and nowhere else.
Settings, rules and ``today`` are arguments: a page never reads the environment.
"""
