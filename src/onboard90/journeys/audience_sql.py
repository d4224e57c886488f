"""The audience language as a database filter: the set-based twin of `rules.audience.evaluate`.

    Journey.objects.filter(to_q('vip and product == "postpaid"'))
    Customer.objects.filter(to_q("handset_os in ('android', 'ios')", prefix=""))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q

from onboard90.journeys.rules.audience import (
    FACTS,
    And,
    AudienceError,
    Compare,
    Const,
    Flag,
    In,
    Node,
    Not,
    Or,
    evaluate,
    parse,
)

__all__ = ["facts_of", "to_q"]

# A compiled condition: a Q, or a constant when the answer is known without looking at any row.
# Constants are folded away because Django treats an empty Q() as "no condition" in both & and |,
# which would turn `true or x` into `x` and `not true` into "everything".
Cond = Q | bool

# Bool facts: the condition under which the fact is true (paths relative to Customer).
_FLAGS: dict[str, dict[str, Any]] = {
    "vip": {"vip_tier__isnull": False},
    "number_changed": {"number_changed": True},
    "marketing_opt_out": {"marketing_opt_out": True},
    "postpaid": {"product": "postpaid"},
}


@dataclass(frozen=True)
class _Column:
    path: str
    # The nullable relation the value hangs off; when it is absent the fact takes `absent_value`.
    via: str | None = None
    absent_value: Any = None
    kind: str = "str"  # str | int | decimal


_COLUMNS: dict[str, _Column] = {
    "product": _Column("product"),
    "handset_os": _Column("handset_os"),
    "city": _Column("city__code"),
    "package": _Column("package__code"),
    "package_family": _Column("package__family"),
    "first_month": _Column("first_month"),
    "vip_level": _Column("vip_tier__code", via="vip_tier", absent_value=""),
    "vip_rank": _Column("vip_tier__rank", via="vip_tier", absent_value=0, kind="int"),
    "monthly_fee": _Column("package__monthly_fee", kind="decimal"),
    # The verdict the cycle stored (usage.PackageFitVerdict, one to one): "" for a customer without one.
    "package_fit": _Column("package_fit__verdict", via="package_fit", absent_value=""),
}

_LOOKUPS = {"==": "exact", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

# Values outside this range cannot equal a small-integer column, and some drivers cannot bind them.
_INT_BIND_RANGE = (-(2**31), 2**31 - 1)


def to_q(node_or_text: Node | str, *, prefix: str = "customer__") -> Q:
    """The audience as a `Q`; `prefix` is the path from the filtered model to Customer ("" for Customer)."""
    node = parse(node_or_text) if isinstance(node_or_text, str) else node_or_text
    cond = _compile(node, prefix)
    if cond is True:
        return Q()
    if cond is False:
        return Q(pk__in=[])
    return cond


def facts_of(customer: Any) -> dict[str, Any]:
    """The Python form's input for one Customer: exactly the keys of `FACTS`."""
    tier = customer.vip_tier
    package = customer.package
    return {
        "vip": tier is not None,
        "number_changed": bool(customer.number_changed),
        "marketing_opt_out": bool(customer.marketing_opt_out),
        "postpaid": customer.product == "postpaid",
        "product": customer.product,
        "handset_os": customer.handset_os,
        "city": customer.city.code,
        "package": package.code,
        "package_family": package.family,
        "vip_level": tier.code if tier is not None else "",
        "first_month": customer.first_month,
        "vip_rank": tier.rank if tier is not None else 0,
        # float, so that `==` in Python agrees with the exact decimal comparison in SQL (see _decimal).
        "monthly_fee": float(package.monthly_fee),
        "package_fit": package_fit_of(customer),
    }


def package_fit_of(customer: Any) -> str:
    """The stored package-fit verdict (fits | does_not_fit), "" when the cycle has made none."""
    try:
        verdict = customer.package_fit
    except ObjectDoesNotExist:
        return ""
    return verdict.verdict if verdict is not None else ""


# Every leaf compiles to a condition that is TRUE or FALSE for every row, never SQL NULL, so `not`
# means the same in the database as in Python. Facts behind the nullable VIP tier take their
# "not VIP" value ("" or 0) from the Python form itself, so the two cannot drift apart.
def _compile(node: Node, prefix: str) -> Cond:
    if isinstance(node, Const):
        return bool(node.value)
    if isinstance(node, Not):
        return _not(_compile(node.operand, prefix))
    if isinstance(node, And):
        return _combine([_compile(operand, prefix) for operand in node.operands], conjunction=True)
    if isinstance(node, Or):
        return _combine([_compile(operand, prefix) for operand in node.operands], conjunction=False)
    if isinstance(node, (Flag, Compare, In)):
        if node.name not in FACTS:
            raise AudienceError(f"unknown fact {node.name!r}")
        if node.name in _FLAGS:
            return _flag(node, prefix)
        if isinstance(node, Compare) and node.op == "!=":
            return _not(_leaf(Compare(node.name, "==", node.value), prefix))
        if isinstance(node, In) and node.negated:
            return _not(_leaf(In(node.name, node.values), prefix))
        return _leaf(node, prefix)
    raise TypeError(f"not an audience node: {node!r}")


def _flag(node: Flag | Compare | In, prefix: str) -> Cond:
    # A yes/no fact has two possible values; ask the Python form which of them the node accepts.
    accepted = {value for value in (True, False) if evaluate(node, {node.name: value})}
    if len(accepted) != 1:
        return bool(accepted)
    is_true = Q(**{prefix + path: value for path, value in _FLAGS[node.name].items()})
    return is_true if True in accepted else ~is_true


def _leaf(node: Compare | In, prefix: str) -> Cond:
    column = _COLUMNS[node.name]
    if isinstance(node, Compare):
        present = _lookup(column, _LOOKUPS[node.op], node.value, prefix)
    else:
        present = _in(column, node.values, prefix)
    if column.via is None:
        return present
    absent = evaluate(node, {node.name: column.absent_value})
    is_null = Q(**{f"{prefix}{column.via}__isnull": True})
    is_set = Q(**{f"{prefix}{column.via}__isnull": False})
    return _combine([is_null if absent else False, _combine([is_set, present], conjunction=True)], conjunction=False)


def _lookup(column: _Column, lookup: str, value: Any, prefix: str) -> Cond:
    if column.kind == "int":
        value, lookup = _integer_bound(value, lookup)
        if lookup is None:
            return bool(value)
    elif column.kind == "decimal":
        value = _decimal(value)
    return Q(**{f"{prefix}{column.path}__{lookup}": value})


def _in(column: _Column, values: tuple[Any, ...], prefix: str) -> Cond:
    if column.kind == "int":
        low, high = _INT_BIND_RANGE
        wanted = [int(v) for v in values if (isinstance(v, int) or v.is_integer()) and low <= v <= high]
    elif column.kind == "decimal":
        wanted = [_decimal(v) for v in values]
    else:
        wanted = list(values)
    if not wanted:
        return False
    return Q(**{f"{prefix}{column.path}__in": wanted})


def _integer_bound(value: int | float, lookup: str) -> tuple[Any, str | None]:
    """Rewrite a comparison of an integer column with a number so the database compares integers.

    Django truncates a float bound for an integer column (`rank == 2.5` would match rank 2), so a
    fractional bound becomes the equivalent integer one. Returns (constant, None) when no row can
    differ: `== 2.5` is never true.
    """
    if isinstance(value, int) or value.is_integer():
        return int(value), lookup
    if lookup == "exact":
        return False, None
    if lookup in ("lt", "lte"):
        return math.floor(value), "lte"
    return math.ceil(value), "gte"


def _decimal(value: int | float) -> Decimal:
    """The literal as the decimal it was written as.

    Python compares float(fee) with the float literal; SQL compares the stored decimal with this
    decimal. repr() gives the shortest text that round-trips the float, so a two-decimal fee equals
    it in SQL exactly when the floats are equal, and orders the same way otherwise. (Django would
    round a float to the column's precision instead, so `fee > 66.123456789` would go wrong.)
    """
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def _not(cond: Cond) -> Cond:
    return (not cond) if isinstance(cond, bool) else ~cond


def _combine(conds: list[Cond], *, conjunction: bool) -> Cond:
    # `and` is decided by a False operand, `or` by a True one; the other constant drops out.
    deciding = not conjunction
    kept: list[Q] = []
    for cond in conds:
        if isinstance(cond, bool):
            if cond is deciding:
                return deciding
            continue
        kept.append(cond)
    if not kept:
        return conjunction
    result = kept[0]
    for cond in kept[1:]:
        result = (result & cond) if conjunction else (result | cond)
    return result
