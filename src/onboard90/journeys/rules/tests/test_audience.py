"""The audience language's parser and Python form, without a database."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings

import onboard90.journeys.rules
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
    predicate,
)
from onboard90.journeys.rules.tests.strategies import NUMBER_VALUES, STRING_VALUES, audience_nodes, to_text

ORDINARY: dict[str, Any] = {
    "vip": False, "number_changed": False, "marketing_opt_out": False, "postpaid": True,
    "product": "postpaid", "handset_os": "android", "city": "jinan", "package": "A66",
    "package_family": "A", "vip_level": "", "first_month": "full", "vip_rank": 0, "monthly_fee": 66.0,
}


def facts(**changes: Any) -> dict[str, Any]:
    return {**ORDINARY, **changes}


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ('vip and product == "postpaid"', And((Flag("vip"), Compare("product", "==", "postpaid")))),
        ("number_changed", Flag("number_changed")),
        ('handset_os in ("android", "ios")', In("handset_os", ("android", "ios"))),
        (
            "not marketing_opt_out and monthly_fee >= 66",
            And((Not(Flag("marketing_opt_out")), Compare("monthly_fee", ">=", 66))),
        ),
    ],
)
def test_the_documented_examples_parse(text: str, tree: Node) -> None:
    assert parse(text) == tree


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert parse("not vip and number_changed or postpaid") == Or(
        (And((Not(Flag("vip")), Flag("number_changed"))), Flag("postpaid"))
    )


def test_parentheses_override_precedence() -> None:
    assert parse("not (vip and (number_changed or postpaid))") == Not(
        And((Flag("vip"), Or((Flag("number_changed"), Flag("postpaid")))))
    )


def test_true_and_false_are_constants() -> None:
    assert parse("true") == Const(True)
    assert parse("false or vip") == Or((Const(False), Flag("vip")))


def test_literals_keep_their_type() -> None:
    rank, fee = parse("vip_rank <= 2"), parse("monthly_fee > 19.5")
    assert isinstance(rank, Compare) and rank.value == 2 and isinstance(rank.value, int)
    assert isinstance(fee, Compare) and isinstance(fee.value, float)
    assert parse("vip_rank > -1") == Compare("vip_rank", ">", -1)
    assert parse("vip == true") == Compare("vip", "==", True)
    assert parse("city == 'jinan'") == Compare("city", "==", "jinan")


def test_in_and_not_in() -> None:
    assert parse("vip_level in ('gold', 'silver')") == In("vip_level", ("gold", "silver"), False)
    assert parse('handset_os not in ("ios")') == In("handset_os", ("ios",), True)
    assert evaluate(parse('handset_os not in ("ios", "")'), facts(handset_os="android"))
    assert not evaluate(parse('handset_os not in ("ios", "")'), facts(handset_os=""))
    assert evaluate(parse("not handset_os in ('ios')"), facts(handset_os="android"))


def test_python_form_of_a_vip_postpaid_audience() -> None:
    matches = predicate('vip and product == "postpaid"')
    assert matches(facts(vip=True, vip_level="gold", vip_rank=3))
    assert not matches(facts())
    assert not matches(facts(vip=True, product="prepaid", postpaid=False))


def test_not_vip_means_level_empty_and_rank_zero() -> None:
    assert evaluate(parse('vip_level == ""'), facts())
    assert evaluate(parse('vip_level != "gold"'), facts())
    assert evaluate(parse("vip_rank == 0"), facts())
    assert not evaluate(parse("vip_rank >= 1"), facts())


def test_fee_compares_as_a_number() -> None:
    assert evaluate(parse("monthly_fee == 66.1"), facts(monthly_fee=66.1))
    assert evaluate(parse("monthly_fee < 66.11"), facts(monthly_fee=66.1))
    assert not evaluate(parse("monthly_fee > 66.1"), facts(monthly_fee=66.1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("vipp", "unknown fact 'vipp'"),
        ("product", "product is not a yes/no fact"),
        ("monthly_fee", "monthly_fee is not a yes/no fact"),
        ('vip_rank == "1"', "vip_rank takes a number"),
        ("product == 1", "product takes a string"),
        ("vip == 1", "vip takes true/false"),
        ('city in ("jinan", 2)', "city takes a string"),
        ('product < "z"', "product is not a number"),
        ("(vip and number_changed", "expected ')', found end of expression"),
        ("vip and number_changed)", "unexpected ')'"),
        ("vip number_changed", "unexpected 'number_changed'"),
        ('vip_level == "gold" "silver"', "unexpected 'silver'"),
        ("", "empty expression"),
        ("   ", "empty expression"),
        ("vip and", "expression ends too early"),
        ("vip_rank ==", "expected a value, found end of expression"),
        ("handset_os in ()", "expected a value, found ')'"),
        ("vip && number_changed", "unexpected character '&'"),
    ],
)
def test_bad_expressions_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(AudienceError) as refused:
        parse(text)
    assert reason in str(refused.value)


@settings(max_examples=300)
@given(audience_nodes())
def test_a_tree_written_back_as_text_parses_to_the_same_tree(node: Node) -> None:
    text = to_text(node)
    # repr, not ==, so that a literal keeps its type too (1 == 1.0, but the text "1" is not "1.0").
    assert repr(parse(text)) == repr(node), text


def test_the_strategies_cover_every_fact() -> None:
    assert set(STRING_VALUES) == {name for name, kind in FACTS.items() if kind == "str"}
    assert set(NUMBER_VALUES) == {name for name, kind in FACTS.items() if kind == "num"}


def test_the_rules_package_does_not_import_django() -> None:
    modules = [
        info.name
        for info in pkgutil.walk_packages(onboard90.journeys.rules.__path__, prefix="onboard90.journeys.rules.")
    ]
    assert "onboard90.journeys.rules.audience" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not leaked, leaked[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
