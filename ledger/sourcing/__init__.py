"""Sourcing: which locations fill an order's lines, and why (pure, like the rest of ledger/).

`plan(PlanRequest) -> Plan` enumerates candidate location sets (1, then 2, then 3 ...
locations, bounded), fills each greedily from the stock it was given, and ranks them by the
channel's ordered rules, ties passed to the next rule; every rule's ranking is kept as the
explanation. See docs/ORDERS.md.
"""

from ledger.sourcing.model import (
    DEFAULT_RULES,
    RULE_NAMES,
    Line,
    Plan,
    PlanRequest,
    Ranked,
    RuleName,
    RuleRanking,
    Shipment,
    ShippingBand,
    Site,
)
from ledger.sourcing.planner import plan

__all__ = [
    "DEFAULT_RULES",
    "RULE_NAMES",
    "Line",
    "Plan",
    "PlanRequest",
    "Ranked",
    "RuleName",
    "RuleRanking",
    "Shipment",
    "ShippingBand",
    "Site",
    "plan",
]
