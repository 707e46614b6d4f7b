"""Relevance: the capability profile's fit of a notice and the installation's learned model."""

from __future__ import annotations

import json

import click

from tracker.cli import main
from tracker.db.engine import session_scope


@main.group("relevance")
def relevance_group() -> None:
    """The capability profile (rules [profile]) and the team's learned relevance model."""


@relevance_group.command("train")
def train_cmd() -> None:
    """Retrain the learned model from bid/no-bid decisions, starred and dismissed notices and
    confirmed account links, and print the words that weigh most.

    Example: tracker relevance train
    """
    from tracker.opportunities.relevance import train_model, training_examples

    with session_scope() as session:
        examples = training_examples(session)
        model = train_model(session)
    if model is None:
        pos = sum(1 for _, y, _, _ in examples if y)
        click.echo(
            f"no model: {pos} relevant and {len(examples) - pos} irrelevant examples "
            "(at least 3 of each are needed); the capability profile alone decides"
        )
        return
    terms = sorted(model.vocabulary.items(), key=lambda t: -model.coef[t[1]])
    click.echo(f"trained on {model.examples} decisions ({model.positives} relevant)")
    click.echo("up:   " + ", ".join(f"{t} {model.coef[j]:+.2f}" for t, j in terms[:10]))
    click.echo("down: " + ", ".join(f"{t} {model.coef[j]:+.2f}" for t, j in terms[-10:]))


@relevance_group.command("show")
@click.argument("notice")
@click.option("--account", help="Use this account's profile (its overrides).")
def show_cmd(notice: str, account: str | None) -> None:
    """The fit of one notice (Doffin id, notice id or database id): in profile or not and
    why, and the learned score with the words that moved it.

    Example: tracker relevance show 2023-604437
    """
    from tracker.bids.context import resolve_notice
    from tracker.opportunities.profile import notice_texts
    from tracker.opportunities.relevance import relevance, stored_model
    from tracker.rules import load_rules

    with session_scope() as session:
        n = resolve_notice(session, notice)
        item = notice_texts(session, [n.id])[n.id]
        result = relevance(load_rules().profile(account), item, stored_model(session))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2))
