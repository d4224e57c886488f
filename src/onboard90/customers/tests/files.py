"""Builders for import files in tests: a small world (cities, packages, tiers, a playbook) and CSV, XLSX
and JSON-lines files written the way BSS exports and Excel write them."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from onboard90 import testing as builders
from onboard90.core import clock

# "Now" for every test: activations in March 2012 are in the past and still inside their 90-day onboarding
# period (which began on 2012-02-20), bills of early May are in the past, June 2012 is in the future.
NOW = clock.at_local(dt.date(2012, 5, 20), 12)

CUSTOMER_HEADER = [
    "msisdn", "name", "city", "store_code", "activated_at", "product", "package_code", "contract_plan",
    "previous_msisdn", "handset_os", "vip_level", "vip_rated_at", "first_month", "marketing_opt_out",
]


def world() -> SimpleNamespace:
    """Jinan (two stores) and Qingdao; post-paid A66/A96 and pre-paid P19; four tiers of which platinum
    (rank 2) is disabled, so the enabled ranks are diamond=1, gold=2, silver=3; the default playbook."""
    from onboard90.org.enums import UnitKind
    from onboard90.org.models import Unit

    jinan, qingdao = builders.city("jinan"), builders.city("qingdao")
    second_store = Unit.objects.create(
        code="jinan-store-2", city=jinan, kind=UnitKind.STORE, name="济南泉城路营业厅", is_main=False
    )
    packages = {code: builders.package(code) for code in ("A66", "A96", "P19")}
    tiers = {code: builders.vip_tier(code) for code in ("diamond", "platinum", "gold", "silver")}
    builders.playbook_version()
    return SimpleNamespace(
        jinan=jinan, qingdao=qingdao, main_store=builders.unit(jinan, UnitKind.STORE), second_store=second_store,
        packages=packages, tiers=tiers,
    )


def customer_row(msisdn: str, **fields: Any) -> dict[str, str]:
    row = {"msisdn": msisdn, "city": "济南", "activated_at": "2012-03-01 10:00", "product": "postpaid",
           "package_code": "A66"}
    row.update(fields)
    return row


def write_csv(
    path: Path, rows: list[dict[str, Any]], *, header: list[str] | None = None, encoding: str = "utf-8"
) -> Path:
    header = header or CUSTOMER_HEADER
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "") for column in header])
    return path


def write_xlsx(path: Path, rows: list[list[Any]], *, header: list[str]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    """Each item is an event dict (written as JSON) or a raw string (written as is)."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def read_errors(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
