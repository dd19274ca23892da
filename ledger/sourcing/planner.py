"""plan(request) -> the chosen shipments, what stays unfilled, and every rule's ranking.

Filters apply first (in the order listed), then a step of its own: an order that must be
filled whole keeps the candidates that fill every line (`fills_every_line`), one that allows
a partial fill keeps those that fill the most units (`fill_most`), and one that may wait on
supply those with the fewest units waiting (`least_backordered`); then each ranking rule
keeps the candidates with its best score, ties passed to the next; the last tie-break is
(shipments, location ids), so a plan is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.sourcing.candidates import Candidate, candidates
from ledger.sourcing.model import (
    RANKED_SHOWN_MAX,
    Plan,
    PlanRequest,
    Ranked,
    RuleRanking,
    Score,
)
from ledger.sourcing.rules import FILTERS, SCORERS, Scorer

FILL_MOST = "fill_most"  # the ranking step of a partial order, before the rules
FILLS_EVERY_LINE = "fills_every_line"  # the filter step of an order that must be complete
LEAST_BACKORDERED = "least_backordered"  # a backorder order: stock before supply


def plan(request: PlanRequest) -> Plan:
    found, truncated = candidates(request)
    considered = len(found)
    rankings: list[RuleRanking] = []
    for rule in request.rules:
        if rule in FILTERS:
            keep = FILTERS[rule]
            kept = [c for c in found if keep(c, request)]
            rankings.append(_filtered(rule, found, kept))
            found = kept
    if request.allow_partial:
        found = _keep_best(FILL_MOST, found, lambda c: -c.filled_units, rankings)
    else:
        complete = [c for c in found if c.complete]
        rankings.append(_filtered(FILLS_EVERY_LINE, found, complete))
        found = complete
    if request.allow_backorder:
        found = _keep_best(LEAST_BACKORDERED, found, lambda c: c.backordered, rankings)
    for rule in request.rules:
        if rule in SCORERS:
            found = _keep_best(rule, found, _score_by(SCORERS[rule], request), rankings)
    return _chosen(request, found, rankings, considered, truncated)


def _score_by(scorer: Scorer, request: PlanRequest) -> Callable[[Candidate], Score]:
    def score(candidate: Candidate) -> Score:
        return scorer(candidate, request)

    return score


def _tie_break(candidate: Candidate) -> tuple[int, tuple[str, ...]]:
    return (len(candidate.locations), candidate.label)


def _keep_best(
    rule: str,
    found: list[Candidate],
    score_of: Callable[[Candidate], Score],
    rankings: list[RuleRanking],
) -> list[Candidate]:
    if not found:
        rankings.append(RuleRanking(rule, 0, 0, ()))
        return found
    scored = sorted(((score_of(c), _tie_break(c), c) for c in found), key=lambda t: t[:2])
    best = scored[0][0]
    kept = [c for score, _, c in scored if score == best]
    shown = tuple(Ranked(c.label, score) for score, _, c in scored[:RANKED_SHOWN_MAX])
    rankings.append(RuleRanking(rule, len(found), len(kept), shown))
    return kept


def _filtered(rule: str, seen: list[Candidate], kept: list[Candidate]) -> RuleRanking:
    kept_ids = {id(c) for c in kept}
    ordered = sorted(seen, key=_tie_break)
    shown = tuple(
        Ranked(c.label, "kept" if id(c) in kept_ids else "removed")
        for c in ordered[:RANKED_SHOWN_MAX]
    )
    return RuleRanking(rule, len(seen), len(kept), shown)


def _chosen(
    request: PlanRequest,
    found: list[Candidate],
    rankings: list[RuleRanking],
    considered: int,
    truncated: bool,
) -> Plan:
    if not found:
        fixed = tuple(dict.fromkeys(s.location for s in request.fixed))
        return Plan((), fixed, request.lines, tuple(rankings), considered, truncated)
    best = min(found, key=_tie_break)
    return Plan(
        shipments=best.shipments,
        locations=best.locations,
        unfilled=best.unfilled,
        rankings=tuple(rankings),
        candidates_considered=considered,
        truncated=truncated,
    )
