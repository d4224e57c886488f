"""The audience language: a small, safe expression over customer facts (no eval of operator text).

    vip and product == "postpaid"
    number_changed
    handset_os in ("android", "ios")
    not marketing_opt_out and monthly_fee >= 66

Grammar (keywords are lower case):
    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := NAME (op literal | ["not"] "in" "(" literal ("," literal)* ")")? | "true" | "false" | "(" expr ")"
    op         := "==" | "!=" | "<" | "<=" | ">" | ">="
    literal    := STRING | NUMBER | "true" | "false"

A bare NAME must be a boolean fact. The same tree compiles to a Python predicate (here) and to a
database filter (`onboard90.journeys.audience_sql`); a property test keeps the two equal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

# The facts an audience may name, with their type. `facts_of(customer)` provides exactly these.
FACTS: dict[str, Literal["bool", "str", "num"]] = {
    "vip": "bool",
    "number_changed": "bool",
    "marketing_opt_out": "bool",
    "postpaid": "bool",
    "product": "str",  # postpaid | prepaid
    "handset_os": "str",  # android | ios | symbian | windows | other | "" (unknown)
    "city": "str",  # city code, e.g. jinan
    "package": "str",  # package code, e.g. A66
    "package_family": "str",  # A | B | C | prepaid | datacard
    "vip_level": "str",  # tier code, "" when not VIP
    "first_month": "str",  # full | half | outside
    "vip_rank": "num",  # 1 = highest tier; 0 when not VIP
    "monthly_fee": "num",
    "package_fit": "str",  # fits | does_not_fit | "" (no verdict: not priced yet, or no usage on file)
}

OPS = ("==", "!=", "<", "<=", ">", ">=")


class AudienceError(ValueError):
    """An expression that does not parse or names an unknown fact."""


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Flag:
    name: str


@dataclass(frozen=True)
class Compare:
    name: str
    op: str
    value: str | int | float | bool


@dataclass(frozen=True)
class In:
    name: str
    values: tuple[str | int | float | bool, ...]
    negated: bool = False


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node = Const | Flag | Compare | In | Not | And | Or

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"[^"\\]*"|'[^'\\]*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|<=|>=|<|>)
      | (?P<punct>[(),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise AudienceError(f"unexpected character {text[pos:].strip()[:1]!r} at position {pos}")
        kind = match.lastgroup
        assert kind is not None  # every alternative of _TOKEN is a named group
        raw = match.group(kind)
        if kind == "string":
            out.append(("lit", raw[1:-1]))
        elif kind == "number":
            out.append(("lit", float(raw) if "." in raw else int(raw)))
        elif kind == "name" and raw in ("true", "false"):
            out.append(("bool", raw == "true"))
        elif kind == "name" and raw in ("and", "or", "not", "in"):
            out.append((raw, raw))
        else:
            out.append((kind, raw))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, Any] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def kind_at(self, offset: int = 0) -> str | None:
        token = self.peek(offset)
        return None if token is None else token[0]

    def value_at(self, offset: int = 0) -> Any:
        token = self.peek(offset)
        return None if token is None else token[1]

    def take(self, kind: str, value: Any = None) -> Any:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            want = value if value is not None else kind
            got = "end of expression" if token is None else repr(token[1])
            raise AudienceError(f"expected {want!r}, found {got}")
        self.i += 1
        return token[1]

    def parse(self) -> Node:
        if not self.tokens:
            raise AudienceError("empty expression")
        node = self.expr()
        rest = self.peek()
        if rest is not None:
            raise AudienceError(f"unexpected {rest[1]!r}")
        return node

    def expr(self) -> Node:
        parts = [self.and_expr()]
        while self.kind_at() == "or":
            self.i += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.not_expr()]
        while self.kind_at() == "and":
            self.i += 1
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def not_expr(self) -> Node:
        if self.kind_at() == "not":
            self.i += 1
            return Not(self.not_expr())
        return self.comparison()

    def literal(self) -> Any:
        token = self.peek()
        if token is None or token[0] not in ("lit", "bool"):
            raise AudienceError(f"expected a value, found {'end of expression' if token is None else repr(token[1])}")
        self.i += 1
        return token[1]

    def comparison(self) -> Node:
        token = self.peek()
        if token is None:
            raise AudienceError("expression ends too early")
        if token[0] == "bool":
            self.i += 1
            return Const(token[1])
        if token[1] == "(" and token[0] == "punct":
            self.i += 1
            node = self.expr()
            self.take("punct", ")")
            return node
        name = self.take("name")
        if name not in FACTS:
            raise AudienceError(f"unknown fact {name!r} (known: {', '.join(sorted(FACTS))})")
        kind = FACTS[name]
        nxt = self.peek()
        if nxt and nxt[0] == "op":
            self.i += 1
            value = self.literal()
            _check_value(name, kind, value)
            if nxt[1] not in ("==", "!=") and kind != "num":
                raise AudienceError(f"{name} is not a number: only == and != apply")
            return Compare(name, nxt[1], value)
        negated = False
        if nxt and nxt[0] == "not" and self.kind_at(1) == "in":
            self.i += 1
            negated = True
            nxt = self.peek()
        if nxt and nxt[0] == "in":
            self.i += 1
            self.take("punct", "(")
            values = [self.literal()]
            while self.value_at() == ",":
                self.i += 1
                values.append(self.literal())
            self.take("punct", ")")
            for value in values:
                _check_value(name, kind, value)
            return In(name, tuple(values), negated)
        if kind != "bool":
            raise AudienceError(f"{name} is not a yes/no fact: compare it (e.g. {name} == ...)")
        return Flag(name)


def _check_value(name: str, kind: str, value: Any) -> None:
    ok = {
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "num": isinstance(value, (int, float)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise AudienceError(f"{name} takes {'a string' if kind == 'str' else 'a number' if kind == 'num' else 'true/false'}, not {value!r}")


@lru_cache(maxsize=256)
def parse(text: str) -> Node:
    """Parse an audience expression; raises AudienceError with the reason."""
    return _Parser(text).parse()


def evaluate(node: Node, facts: Mapping[str, Any]) -> bool:
    """The Python form: does a customer with these facts belong to the audience?"""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Flag):
        return bool(facts[node.name])
    if isinstance(node, Compare):
        left, right = facts[node.name], node.value
        if node.op == "==":
            return bool(left == right)
        if node.op == "!=":
            return bool(left != right)
        number = float(left)
        if isinstance(right, str):  # the parser allows an order only between numbers
            raise TypeError(f"{node.name} {node.op} {right!r}: not a number")
        return {"<": number < right, "<=": number <= right, ">": number > right, ">=": number >= right}[node.op]
    if isinstance(node, In):
        inside = facts[node.name] in node.values
        return not inside if node.negated else inside
    if isinstance(node, Not):
        return not evaluate(node.operand, facts)
    if isinstance(node, And):
        return all(evaluate(operand, facts) for operand in node.operands)
    if isinstance(node, Or):
        return any(evaluate(operand, facts) for operand in node.operands)
    raise TypeError(node)


def predicate(text: str) -> Callable[[Mapping[str, Any]], bool]:
    node = parse(text)
    return lambda facts: evaluate(node, facts)
