"""The tariff engine (catalog.tariff) and `onboard90 bill`: hand-computed months for every rule, and the
vectorised `charges` held to the scalar `charge` on random tariffs and profiles.

Money in fen; the shipped catalogue's rates in fen: A46 = 4600 fen, 50 min, 150 MB, 0 SMS, 25/30/10 fen a
minute/MB/SMS; A66 = 6600, 50 min, 300 MB, 240 SMS, 20/30/10; B46 = 4600, 120 min, 40 MB, 25/30/10;
C46 = 4600, 260 local min, 40 MB, 20/30/10; P20 = 2000 minimum spend, 10/20/10, data off at 100 MB;
D80/D150/D200/D300 = 8000/15000/20000/30000 with 1000/3000/5000/10000 MB, 10 fen a MB, off at 15000 MB.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from onboard90.catalog import tariff as engine
from onboard90.catalog.services import _package_rows, catalog_install
from onboard90.catalog.tariff import (
    FULL,
    HALF,
    OUTSIDE,
    REGULAR,
    Charge,
    Tariff,
    TariffTable,
    charge,
    charges,
    first_month_code,
    half_allowance,
    tariff_of,
    tariffs_of,
    to_yuan,
)
from onboard90.guide.booklet import _half as booklet_half

CATALOGUE = tariffs_of(_package_rows())


def bill(code: str, minutes: int = 0, data_mb: int = 0, sms: int = 0, first_month: str | None = None):
    return charge(CATALOGUE[code], minutes=minutes, data_mb=data_mb, sms=sms, first_month=first_month)


def parts(c: Charge) -> tuple[int, int, int, int, int, int]:
    return c.fee, c.voice_over, c.data_over, c.sms_over, c.top_up, c.total


# --- tariffs from catalogue rows ------------------------------------------------------------------------


def test_the_shipped_rows_become_integers_fee_in_fen_rates_in_hundredths_of_a_fen():
    a46, p20, d80 = CATALOGUE["A46"], CATALOGUE["P20"], CATALOGUE["D80"]
    assert (a46.fee, a46.voice_min, a46.data_mb, a46.sms) == (4600, 50, 150, 0)
    assert (a46.voice_rate, a46.data_rate, a46.sms_rate) == (2500, 3000, 1000)  # 0.25 元, 0.3 元, 0.1 元
    assert (a46.minimum_spend, a46.data_cap_mb, a46.datacard, a46.voice, a46.upgrades) == (
        False, None, False, True, (),
    )  # fmt: skip
    assert (p20.fee, p20.minimum_spend, p20.data_cap_mb, p20.data_rate) == (2000, True, 100, 2000)
    assert (d80.datacard, d80.voice, d80.data_cap_mb) == (True, False, 15000)
    assert len(CATALOGUE) == 26


def test_every_data_card_moves_up_to_the_dearer_data_cards_and_nothing_else_does():
    assert [t.code for t in CATALOGUE["D80"].upgrades] == ["D150", "D200", "D300"]
    assert [t.code for t in CATALOGUE["D200"].upgrades] == ["D300"]
    assert CATALOGUE["D300"].upgrades == ()
    assert all(not t.upgrades for t in CATALOGUE.values() if not t.datacard)
    assert all(not step.upgrades for t in CATALOGUE.values() for step in t.upgrades)


def test_tariff_of_reads_decimals_strings_and_the_floats_of_package_as_dict_exactly():
    row = {"code": "X", "monthly_fee": 19.9, "voice_min": 10, "data_mb": 0, "sms": 0,
           "voice_rate": 0.15, "data_rate": Decimal("0.0003"), "sms_rate": "0.1"}  # fmt: skip
    t = tariff_of(row)
    assert (t.fee, t.voice_rate, t.data_rate, t.sms_rate) == (1990, 1500, 3, 1000)
    assert t.voice and not t.datacard and not t.minimum_spend


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("voice_rate", "0.00005"),  # not a whole number of 0.0001 元
        ("data_rate", 0.00001),
        ("monthly_fee", "46.001"),  # not whole fen
        ("monthly_fee", "-1"),
        ("sms_rate", "abc"),
        ("sms_rate", None),
        ("voice_min", 1.5),
        ("data_mb", -3),
        ("data_cap_mb", "10.5"),
        ("data_charge_cap", "0.001"),
    ],
)
def test_tariff_of_refuses_what_is_not_whole_fen_whole_rate_units_or_whole_counts(key, value):
    row = {"code": "X", "monthly_fee": "46", "voice_min": 50, "data_mb": 150, "sms": 0,
           "voice_rate": "0.25", "data_rate": "0.3", "sms_rate": "0.1", key: value}  # fmt: skip
    with pytest.raises(ValueError, match="X"):
        tariff_of(row)


def test_a_tariff_holds_only_whole_numbers():
    with pytest.raises(ValueError, match="fee"):
        Tariff(code="X", fee=-1, voice_min=0, data_mb=0, sms=0, voice_rate=0, data_rate=0, sms_rate=0)
    with pytest.raises(ValueError, match="out of range"):
        Tariff(code="X", fee=0, voice_min=0, data_mb=0, sms=0, voice_rate=10**8 + 1, data_rate=0, sms_rate=0)
    with pytest.raises(ValueError, match="voice_rate"):
        Tariff(code="X", fee=0, voice_min=0, data_mb=0, sms=0, voice_rate=2.5, data_rate=0, sms_rate=0)


# --- allowances, then overage (§1.2–1.5) ---------------------------------------------------------------


def test_within_the_allowance_the_month_costs_the_fee():
    assert parts(bill("A66", minutes=50, data_mb=300, sms=240)) == (6600, 0, 0, 0, 0, 6600)
    assert bill("A66").total == 6600  # no use at all: still the fee


def test_voice_beyond_the_allowance():
    assert parts(bill("A46", minutes=80)) == (4600, 750, 0, 0, 0, 5350)  # 30 min × 25 fen


def test_data_beyond_the_allowance():
    assert parts(bill("A46", data_mb=200)) == (4600, 0, 1500, 0, 0, 6100)  # 50 MB × 30 fen


def test_sms_beyond_the_allowance():
    assert parts(bill("A66", sms=250)) == (6600, 0, 0, 100, 0, 6700)  # 10 × 10 fen
    assert parts(bill("A46", sms=3)) == (4600, 0, 0, 30, 0, 4630)  # A46 includes no SMS


def test_all_three_beyond_the_allowance():
    # B46: 10 min × 25 + 10 MB × 30 + 5 SMS × 10
    assert parts(bill("B46", minutes=130, data_mb=50, sms=5)) == (4600, 250, 300, 50, 0, 5200)


def test_a_c_plan_charges_its_minutes_at_its_own_rate():
    assert parts(bill("C46", minutes=300)) == (4600, 800, 0, 0, 0, 5400)  # 40 min × 20 fen


def test_a_rate_finer_than_a_fen_rounds_each_part_down_to_the_fen():
    t = tariff_of({"code": "F", "monthly_fee": 0, "voice_min": 0, "data_mb": 0, "sms": 0,
                   "voice_rate": "0.155", "data_rate": "0.0005", "sms_rate": "0.1"})  # fmt: skip
    c = charge(t, minutes=3, data_mb=250, sms=1)
    assert parts(c) == (0, 46, 12, 10, 0, 68)  # 46.5 fen -> 46, 12.5 fen -> 12


# --- minimum spend (§1.7) and data caps (§1.10) ----------------------------------------------------------


def test_the_20_yuan_card_below_its_floor_is_topped_up_to_it():
    c = bill("P20", minutes=50)  # 50 min × 10 fen = 5 元
    assert parts(c) == (0, 500, 0, 0, 1500, 2000)
    assert "最低消费" in c.notes[0]


def test_the_20_yuan_card_at_and_above_its_floor_pays_its_use():
    assert parts(bill("P20", minutes=200)) == (0, 2000, 0, 0, 0, 2000)
    # 150 min × 10 + 60 MB × 20 + 10 SMS × 10: no fee on top of the use
    assert parts(bill("P20", minutes=150, data_mb=60, sms=10)) == (0, 1500, 1200, 100, 0, 2800)


def test_data_stops_at_the_cap_and_nothing_beyond_it_is_charged():
    c = bill("P20", minutes=30, data_mb=150)  # 100 MB × 20 + 30 min × 10
    assert parts(c) == (0, 300, 2000, 0, 0, 2300)
    assert any("100MB" in note and "50MB" in note for note in c.notes)


def test_a_data_charge_cap_when_a_row_has_one():
    row = {"code": "A46", "monthly_fee": 46, "voice_min": 50, "data_mb": 150, "sms": 0, "voice_rate": "0.25",
           "data_rate": "0.3", "sms_rate": "0.1", "data_charge_cap": 500}  # fmt: skip
    t = tariff_of(row)
    c = charge(t, data_mb=2000, minutes=0, sms=0)  # 1850 MB × 30 fen = 555 元, capped at 500 元
    assert parts(c) == (4600, 0, 50000, 0, 0, 54600)
    assert "500.00" in c.notes[0]
    assert charge(t, data_mb=300, minutes=0, sms=0).data_over == 4500  # below the cap: as charged


# --- data cards (§1.8) -----------------------------------------------------------------------------------


def test_a_data_card_within_and_beyond_its_allowance():
    assert parts(bill("D80", data_mb=800)) == (8000, 0, 0, 0, 0, 8000)
    assert parts(bill("D80", data_mb=1500)) == (8000, 0, 5000, 0, 0, 13000)  # 500 MB × 10 fen
    c = bill("D80", data_mb=1699)
    assert (c.total, c.billed_as) == (14990, "D80")


def test_a_data_card_month_that_reaches_the_next_fee_is_billed_at_the_next_tier():
    c = bill("D80", data_mb=1700)  # 80 + 70 元 = the 150 元 tier's fee
    assert (parts(c), c.billed_as) == ((15000, 0, 0, 0, 0, 15000), "D150")
    # 3600 MB: D80 340 元 >= 150, D150 210 元 >= 200, D200 200 元 < 300: billed as D200
    c = bill("D80", data_mb=3600)
    assert (c.total, c.billed_as) == (20000, "D200")
    assert "D200" in c.notes[-1]
    assert (bill("D150", data_mb=1700).total, bill("D150", data_mb=1700).billed_as) == (15000, "D150")


def test_a_data_card_stops_at_15_gb_and_the_top_tier_pays_its_overage():
    c = bill("D80", data_mb=16000)  # 15000 MB: D80 1480, D150 1350, D200 1200, D300 800 元
    assert (parts(c), c.billed_as) == ((30000, 0, 50000, 0, 0, 80000), "D300")
    assert any("15000MB" in note for note in c.notes)
    assert bill("D300", data_mb=12000).total == 50000  # 300 + 2000 MB × 10 fen, nowhere to move up


def test_a_data_card_has_no_voice_its_minutes_cost_nothing_and_say_so():
    c = bill("D80", minutes=100, data_mb=500)
    assert parts(c) == (8000, 0, 0, 0, 0, 8000)
    assert "no voice" in c.notes[0]


# --- the activation month (§1.6–1.8) ---------------------------------------------------------------------


def test_first_month_full_is_the_regular_month():
    for usage in [{}, {"minutes": 80, "data_mb": 200, "sms": 3}, {"data_mb": 5000}]:
        assert parts(bill("A46", **usage, first_month="full")) == parts(bill("A46", **usage))


def test_first_month_half_halves_the_fee_and_each_allowance():
    c = bill("A46", minutes=80, data_mb=200, sms=3, first_month="half")
    # 23 元; 25 min and 75 MB included: 55 min × 25 + 125 MB × 30 + 3 SMS × 10
    assert parts(c) == (2300, 1375, 3750, 30, 0, 7455)
    assert "23.00" in c.notes[0] and "25分钟" in c.notes[0]


def test_first_month_half_rounds_odd_allowances_up_and_an_odd_fee_down():
    t = tariff_of({"code": "X", "monthly_fee": "45.99", "voice_min": 45, "data_mb": 151, "sms": 11,
                   "voice_rate": "0.25", "data_rate": "0.3", "sms_rate": "0.1"})  # fmt: skip
    half = {"first_month": "half"}
    assert parts(charge(t, minutes=23, data_mb=76, sms=6, **half)) == (2299, 0, 0, 0, 0, 2299)
    assert parts(charge(t, minutes=24, data_mb=77, sms=7, **half)) == (2299, 25, 30, 10, 0, 2364)
    assert charge(t, minutes=24, data_mb=77, sms=7).total == 4599  # a regular month: all within


def test_the_half_allowance_is_rounded_as_the_booklet_prints_it():
    assert [half_allowance(n) for n in (0, 1, 45, 50, 151)] == [0, 1, 23, 25, 76]
    assert all(half_allowance(n) == booklet_half(n) for n in range(0, 3001))


def test_first_month_outside_charges_no_fee_and_everything_at_out_of_package_rates():
    c = bill("A66", minutes=40, data_mb=100, sms=10, first_month="outside")
    assert parts(c) == (0, 800, 3000, 100, 0, 3900)  # 40 × 20 + 100 × 30 + 10 × 10
    assert "包外" in c.notes[0]


@pytest.mark.parametrize("option", ["full", "half", "outside"])
def test_the_20_yuan_cards_activation_month_is_actual_use_with_no_floor(option):
    c = bill("P20", minutes=50, first_month=option)
    assert parts(c) == (0, 500, 0, 0, 0, 500)
    assert "实际使用" in c.notes[-1]
    assert bill("P20", data_mb=150, first_month=option).total == 2000  # still stops at 100 MB


@pytest.mark.parametrize("option", ["full", "half", "outside"])
def test_a_data_cards_activation_month_is_by_the_mb_until_it_reaches_the_fee(option):
    assert bill("D80", data_mb=500, first_month=option).total == 5000  # 500 MB × 10 fen < 80 元
    assert bill("D80", data_mb=700, sms=5, first_month=option).total == 7050
    c = bill("D80", data_mb=900, first_month=option)  # 90 元 by the MB: the 80 元 package instead
    assert (c.total, c.billed_as) == (8000, "D80")
    c = bill("D80", data_mb=2000, first_month=option)  # the package, then its auto-upgrade: D150
    assert (c.total, c.billed_as) == (15000, "D150")
    assert bill("D150", data_mb=1200, first_month=option).total == 12000  # its own tier's fee, 150 元
    # Exactly the fee by the MB (79 + 1 元): "until usage reaches 80 元", so the package and its SMS rate
    assert bill("D80", data_mb=790, sms=10, first_month=option).total == 8100
    assert charges(TariffTable([CATALOGUE["D80"]]), 0, 790, 10, option).tolist() == [8100]


def test_p36_a_prepaid_package_without_a_minimum_takes_the_forms_option():
    assert bill("P36", minutes=150, first_month="half").total == 1800 + 75 * 30
    assert bill("P36", first_month="outside").total == 0


@pytest.mark.parametrize(
    ("spelling", "code"),
    [(None, REGULAR), ("", REGULAR), ("full", FULL), ("全月", FULL), ("全月套餐", FULL), ("half", HALF),
     ("减半", HALF), ("套餐减半", HALF), ("outside", OUTSIDE), ("包外", OUTSIDE), ("套餐包外资费", OUTSIDE),
     (" Half ", HALF), (2, HALF)],
)  # fmt: skip
def test_first_month_spellings(spelling, code):
    assert first_month_code(spelling) == code


@pytest.mark.parametrize("spelling", ["quarter", "半", 7, True])
def test_an_unknown_first_month_option_is_refused(spelling):
    with pytest.raises(ValueError, match="first-month"):
        first_month_code(spelling)


@pytest.mark.parametrize(
    ("usage", "message"),
    [({"minutes": -1}, "negative"), ({"data_mb": 1.5}, "whole"), ({"sms": True}, "whole"),
     ({"sms": 10**9 + 1}, "range")],
)  # fmt: skip
def test_usage_must_be_whole_and_not_negative(usage, message):
    with pytest.raises(ValueError, match=message):
        charge(CATALOGUE["A46"], **{"minutes": 0, "data_mb": 0, "sms": 0, **usage})
    table = TariffTable([CATALOGUE["A46"]])
    arrays = {"minutes": [0], "data_mb": [0], "sms": [0]}
    arrays.update({k: [v] for k, v in usage.items()})
    with pytest.raises(ValueError):
        charges(table, arrays["minutes"], arrays["data_mb"], arrays["sms"])


def test_to_yuan():
    assert [str(to_yuan(f)) for f in (5350, 0, 1, 15000)] == ["53.50", "0.00", "0.01", "150.00"]


# --- the vectorised engine -------------------------------------------------------------------------------


def test_charges_is_customers_by_packages_by_months():
    table = TariffTable(CATALOGUE[c] for c in ["A46", "P20", "D80"])
    minutes = np.array([[80, 0], [50, 200]])
    data_mb = np.array([[200, 1700], [0, 150]])
    out = charges(table, minutes, data_mb, np.zeros((2, 2), dtype=int), np.array(["half", ""]))
    assert out.shape == (2, 3, 2) and out.dtype == np.int64
    assert out[0, 0].tolist() == [2300 + 1375 + 3750, 4600 + 1550 * 30]  # A46: half month, then regular
    assert out[0, 2].tolist() == [2000 * 0 + 200 * 10, 15000]  # D80: first month by the MB; then D150
    assert out[1, 1].tolist() == [500, 2000 + 2000]  # P20: first month actual use; then 100 MB + 200 min
    assert table.codes == ("A46", "P20", "D80") and table.index("D80") == 2
    assert charges(table, 80, 200, 3).tolist() == [bill(c, 80, 200, 3).total for c in table.codes]
    assert charges(table, [80, 0], [200, 0], [3, 0], "outside").shape == (2, 3)
    assert charges(table, [80], [200], [3], [HALF]).tolist() == [[bill(c, 80, 200, 3, "half").total
                                                                  for c in table.codes]]  # fmt: skip


def test_charges_in_small_blocks_equals_one_block(monkeypatch):
    table = TariffTable(CATALOGUE.values())
    rng = np.random.default_rng(7)
    usage = [rng.integers(0, n, (50, 2)) for n in (1500, 16000, 300)]
    months = rng.integers(0, 4, (50, 2))
    whole = charges(table, *usage, months).copy()
    monkeypatch.setattr(engine, "BLOCK_ELEMENTS", 7)
    assert np.array_equal(charges(table, *usage, months), whole)


def test_a_table_needs_distinct_tariffs():
    with pytest.raises(ValueError):
        TariffTable([])
    with pytest.raises(ValueError, match="duplicate"):
        TariffTable([CATALOGUE["A46"], CATALOGUE["A46"]])


def _synthetic(draw, code: str, upgrades: tuple[Tariff, ...] = ()) -> Tariff:
    rate = st.one_of(st.integers(0, 60).map(lambda fen: fen * 100), st.integers(0, 6000))  # fen, or finer
    return Tariff(
        code=code,
        fee=draw(st.integers(0, 100_000)),
        voice_min=draw(st.integers(0, 3001)),
        data_mb=draw(st.integers(0, 10_001)),
        sms=draw(st.integers(0, 301)),
        voice_rate=draw(rate),
        data_rate=draw(rate),
        sms_rate=draw(rate),
        minimum_spend=draw(st.booleans()),
        data_cap_mb=draw(st.none() | st.integers(0, 20_000)),
        data_charge_cap=draw(st.none() | st.integers(0, 100_000)),
        datacard=draw(st.booleans()),
        voice=draw(st.booleans()),
        upgrades=upgrades,
    )


@st.composite
def tables(draw) -> TariffTable:
    shipped = draw(st.lists(st.sampled_from(sorted(CATALOGUE)), min_size=0, max_size=10, unique=True))
    made = []
    for i in range(draw(st.integers(0 if shipped else 1, 3))):
        steps = tuple(_synthetic(draw, f"S{i}u{k}") for k in range(draw(st.integers(0, 3))))
        made.append(_synthetic(draw, f"S{i}", steps))
    return TariffTable(draw(st.permutations([CATALOGUE[c] for c in shipped] + made)))


def _edges(values: list[int]) -> st.SearchStrategy[int]:
    """Usage at and beside the shipped packages' thresholds, where a `<` for a `<=` would show."""
    return st.sampled_from(sorted({max(0, v + d) for v in values for d in (-1, 0, 1)}))


usage_amounts = {
    # allowances; the 20元 card's floor (200 min at 10 fen)
    "minutes": st.one_of(
        st.integers(0, 600), st.integers(0, 5000), _edges([0, 25, 50, 120, 150, 200, 260, 3000])
    ),
    # allowances; caps; a data card's first month reaching its fee (800, 1500 MB); the tiers' fees
    # reached from below (D80: 1700 MB; D150: 3500; D200: 6000)
    "data_mb": st.one_of(
        st.integers(0, 1200),
        st.integers(0, 20_000),
        _edges([40, 75, 100, 150, 300, 800, 1000, 1500, 1700, 2000, 3000, 3500, 5000, 6000, 10000, 15000]),
    ),
    "sms": st.one_of(st.integers(0, 300), st.integers(0, 1000), _edges([0, 120, 240])),
}


@settings(max_examples=150, deadline=None)
@given(table=tables(), data=st.data())
def test_the_vectorised_price_equals_the_scalar_reference(table, data):
    customers = data.draw(st.integers(1, 4))
    months = data.draw(st.integers(1, 3))
    usage = {
        name: np.array(data.draw(st.lists(st.lists(amount, min_size=months, max_size=months),
                                          min_size=customers, max_size=customers)), dtype=np.int64)
        for name, amount in usage_amounts.items()
    }  # fmt: skip
    form = data.draw(st.sampled_from(["codes", "words", "one"]))
    if form == "codes":
        option = np.array(data.draw(st.lists(st.lists(st.integers(0, 3), min_size=months, max_size=months),
                                             min_size=customers, max_size=customers)))  # fmt: skip
    elif form == "words":
        words = st.sampled_from(["", "full", "half", "outside", "全月", "减半", "包外"])
        option = np.array(data.draw(st.lists(words, min_size=months, max_size=months)))  # one per month
    else:
        option = data.draw(st.sampled_from([None, "full", "half", "outside"]))

    out = charges(table, usage["minutes"], usage["data_mb"], usage["sms"], option)

    assert out.shape == (customers, len(table), months)
    for c in range(customers):
        for m in range(months):
            if isinstance(option, np.ndarray):
                month = option[c, m] if option.ndim == 2 else option[m]
                month = int(month) if form == "codes" else str(month)
            else:
                month = option
            for p, t in enumerate(table.tariffs):
                expected = charge(t, minutes=int(usage["minutes"][c, m]), data_mb=int(usage["data_mb"][c, m]),
                                  sms=int(usage["sms"][c, m]), first_month=month)  # fmt: skip
                assert out[c, p, m] == expected.total, (t.code, c, m, month, expected)
                assert expected.total == (expected.fee + expected.voice_over + expected.data_over
                                          + expected.sms_over + expected.top_up)  # fmt: skip


def test_the_tariff_engine_does_not_import_django():
    script = (
        "import sys\n"
        "import onboard90.catalog.tariff\n"
        "leaked = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "assert not leaked, leaked[:5]\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# --- onboard90 bill ---------------------------------------------------------------------------------------


@pytest.fixture
def installed(db):
    return catalog_install()


def run_bill(*args: str) -> str:
    out = StringIO()
    call_command("bill", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def bill_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    call_command("bill", *args, "--json", stdout=StringIO(), stderr=StringIO())
    return json.loads(capsys.readouterr().out)


def test_bill_prints_the_parts_and_the_total_in_yuan(installed):
    text = run_bill("--package", "a46", "--minutes", "80", "--data-mb", "200", "--sms", "3")
    assert "A46 沃3G基本套餐A计划46元 — 普通月份 / a regular month" in text
    for label, yuan in [("月费 / monthly fee", "46.00"), ("套外通话", "7.50"), ("套外流量", "15.00"),
                        ("套外短信", "0.30"), ("合计 / total", "68.80")]:  # fmt: skip
        assert re.search(rf"{label}.*\s{re.escape(yuan)} *\n", text), (label, text)
    assert "最低消费补足" not in text  # only for a minimum-spend card


def test_bill_of_the_20_yuan_card_shows_the_top_up(installed):
    text = run_bill("--package", "P20", "--minutes", "50")
    assert re.search(r"最低消费补足 / minimum-spend top-up\s+15.00 *\n", text), text
    assert re.search(r"合计 / total\s+20.00 *\n", text), text
    assert "说明 / notes:" in text


def test_bill_json_of_a_data_card_that_moves_up_a_tier(installed, capsys):
    doc = bill_json(capsys, "--package", "D80", "--data-mb", "1700")
    assert (doc["package"], doc["billed_as"], doc["total"], doc["total_fen"]) == ("D80", "D150", 150.0, 15000)
    assert doc["first_month"] is None and doc["usage"] == {"minutes": 0, "data_mb": 1700, "sms": 0}
    assert (doc["fee"], doc["data_over"], doc["top_up"]) == (150.0, 0.0, 0.0)
    assert "D150" in doc["notes"][-1]


@pytest.mark.parametrize(("option", "value"), [("减半", "half"), ("half", "half"), ("包外", "outside"),
                                               ("全月", "full")])  # fmt: skip
def test_bill_first_month_options(installed, capsys, option, value):
    doc = bill_json(capsys, "--package", "A46", "--minutes", "80", "--data-mb", "200", "--sms", "3",
                    "--first-month", option)  # fmt: skip
    assert doc["first_month"] == value
    assert doc["total_fen"] == {"half": 7455, "outside": 80 * 25 + 200 * 30 + 30, "full": 6880}[value]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--package", "Z99"], "unknown package"),
        (["--package", "A46", "--minutes", "-5"], "negative"),
        (["--package", "A46", "--sms", "-1"], "negative"),
        (["--package", "A46", "--first-month", "quarter"], "first-month"),
        (["--package", "D80", "--minutes", "10"], "data card"),
    ],
)
def test_bill_refuses_in_one_line(installed, args, message):
    with pytest.raises(CommandError, match=message) as caught:
        run_bill(*args)
    assert "\n" not in str(caught.value)
