"""Hypothesis strategies over the audience AST, and `to_text`, which writes a tree back as source.

Shared by the parser's tests (round trip) and the SQL compiler's property test; Django-free.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from onboard90.journeys.rules.audience import FACTS, OPS, And, Compare, Const, Flag, In, Node, Not, Or

# Literal pools: the values the test population holds, plus near misses (case, spacing, absent codes)
# that must match nobody. Arbitrary text and numbers are mixed in as well.
STRING_VALUES: dict[str, list[str]] = {
    "product": ["postpaid", "prepaid", "Postpaid", "datacard", ""],
    "handset_os": ["android", "ios", "symbian", "windows", "other", "", "Android", "ios "],
    "city": ["jinan", "qingdao", "zibo", "weihai", "Jinan", ""],
    "package": ["A66", "A96", "B46", "B66", "C126", "P19", "D50", "A661", "a66", ""],
    "package_family": ["A", "B", "C", "prepaid", "datacard", "D", "a", ""],
    "vip_level": ["diamond", "platinum", "gold", "silver", "", "bronze", "Gold"],
    "first_month": ["full", "half", "outside", "", "Full"],
    "package_fit": ["fits", "does_not_fit", "", "Fits", "does not fit"],
}
NUMBER_VALUES: dict[str, list[int | float]] = {
    "vip_rank": [0, 1, 2, 3, 4, 5, -1, 0.5, 2.5, 3.0, -0.5, 4.0001, 10**20, -(10**20)],
    "monthly_fee": [0, 19, 19.5, 19.49, 19.51, 46, 50, 66, 66.0, 66.1, 66.09, 66.11, 66.123456789,
                    96, 125.99, 126, -1, 1e-07, 10**20],
}

# The tokenizer takes a string without backslashes, quoted with whichever quote it does not contain.
_any_text = st.text(
    alphabet=st.characters(exclude_characters="\\\x00", exclude_categories=["Cs"]), max_size=8
).filter(lambda s: not ('"' in s and "'" in s))
_any_number = st.integers(-1000, 1000) | st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)


def _values(name: str) -> st.SearchStrategy[Any]:
    kind = FACTS[name]
    if kind == "bool":
        return st.booleans()
    # Mostly values that can match (or nearly match); now and then anything at all.
    if kind == "str":
        pool = st.sampled_from(STRING_VALUES[name])
        return st.one_of(pool, pool, pool, _any_text)
    pool = st.sampled_from(NUMBER_VALUES[name])
    return st.one_of(pool, pool, pool, _any_number)


def fact_leaves(name: str) -> st.SearchStrategy[Node]:
    """Every leaf the parser can produce for one fact: bare flag, comparison, (not) in."""
    kind = FACTS[name]
    ops = OPS if kind == "num" else ("==", "!=")
    values = _values(name)
    choices: list[st.SearchStrategy[Node]] = [
        st.builds(Compare, st.just(name), st.sampled_from(ops), values),
        st.builds(In, st.just(name), st.lists(values, min_size=1, max_size=4).map(tuple), st.booleans()),
    ]
    if kind == "bool":
        choices.append(st.just(Flag(name)))
    return st.one_of(choices)


def leaves() -> st.SearchStrategy[Node]:
    return st.one_of([st.builds(Const, st.booleans())] + [fact_leaves(name) for name in FACTS])


def audience_nodes(max_depth: int = 4) -> st.SearchStrategy[Node]:
    """Trees the parser can produce, nested at most `max_depth` deep below the root."""
    node = leaves()
    for _ in range(max_depth):
        inner = node
        node = st.one_of(
            leaves(),
            st.builds(Not, inner),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        )
    return node


def literal_text(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # The grammar has no exponent form: write the shortest round-tripping decimal in full.
        text = format(Decimal(repr(value)), "f")
        return text if "." in text else text + ".0"
    quote = "'" if '"' in value else '"'
    return f"{quote}{value}{quote}"


def to_text(node: Node) -> str:
    """Source text that parses back to `node` (parentheses only where precedence needs them)."""
    if isinstance(node, Const):
        return literal_text(node.value)
    if isinstance(node, Flag):
        return node.name
    if isinstance(node, Compare):
        return f"{node.name} {node.op} {literal_text(node.value)}"
    if isinstance(node, In):
        values = ", ".join(literal_text(value) for value in node.values)
        return f"{node.name} {'not in' if node.negated else 'in'} ({values})"
    if isinstance(node, Not):
        return f"not {_grouped(node.operand, (And, Or))}"
    if isinstance(node, And):
        return " and ".join(_grouped(operand, (And, Or)) for operand in node.operands)
    if isinstance(node, Or):
        return " or ".join(_grouped(operand, (Or,)) for operand in node.operands)
    raise TypeError(node)


def _grouped(node: Node, needs_parens: tuple[type, ...]) -> str:
    text = to_text(node)
    return f"({text})" if isinstance(node, needs_parens) else text
