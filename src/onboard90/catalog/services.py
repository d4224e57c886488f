"""Writes for the catalogue: installing the shipped packages, VIP tiers and reference facts."""

from __future__ import annotations

import csv
import io
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import yaml
from django.db import transaction

from onboard90.catalog.models import Package, ReferenceItem, ReferenceKind, VipTier
from onboard90.core.services import audit_record
from onboard90.org.services import install_rows

DATA = resources.files("onboard90.catalog") / "data"

# packages.csv keeps the reference file's column names (units in the name); the model's fields do not.
PACKAGE_COLUMNS = {
    "code": "code",
    "name": "name",
    "family": "family",
    "product": "product",
    "monthly_fee_yuan": "monthly_fee",
    "voice_min": "voice_min",
    "data_mb": "data_mb",
    "sms": "sms",
    "voice_rate_yuan_per_min": "voice_rate",
    "data_rate_yuan_per_mb": "data_rate",
    "sms_rate_yuan": "sms_rate",
    "video_rate_yuan_per_min": "video_rate",
    "voice_scope": "voice_scope",
    "long_distance_rate_yuan_per_min": "long_distance_rate",
    "minimum_spend": "minimum_spend",
    "data_cap_mb": "data_cap_mb",
    "notes": "notes",
    "confidence": "confidence",
}
_INTEGER_FIELDS = {"voice_min", "data_mb", "sms"}
_DECIMAL_FIELDS = {"monthly_fee", "voice_rate", "data_rate", "sms_rate", "video_rate"}
_OPTIONAL_FIELDS = {"long_distance_rate": Decimal, "data_cap_mb": int}  # blank: does not apply


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8-sig")


def _load_yaml(name: str) -> Any:
    try:
        return yaml.safe_load(_read(name))
    except yaml.YAMLError as exc:
        raise ValueError(f"参考数据文件有误 / bad reference data file {name}: {exc}") from exc


def _package_rows() -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(_read("packages.csv")))
    missing = set(PACKAGE_COLUMNS) - set(reader.fieldnames or [])
    if missing:
        raise ValueError(f"packages.csv 缺少列 / is missing columns: {', '.join(sorted(missing))}")
    rows = []
    for line, record in enumerate(reader, start=2):
        row: dict[str, Any] = {}
        for column, field in PACKAGE_COLUMNS.items():
            value = (record[column] or "").strip()
            try:
                if field in _OPTIONAL_FIELDS:
                    row[field] = _OPTIONAL_FIELDS[field](value) if value else None
                elif field == "minimum_spend":
                    row[field] = value.lower() in ("yes", "true", "1")
                elif field in _INTEGER_FIELDS:
                    row[field] = int(value or 0)
                elif field in _DECIMAL_FIELDS:
                    row[field] = Decimal(value or "0")
                else:
                    row[field] = value
            except (ValueError, InvalidOperation) as exc:
                raise ValueError(
                    f"packages.csv 第{line}行 {column} 不是数字 / line {line}: {column} is not a number: {value!r}"
                ) from exc
        if not row["code"] or not row["name"]:
            raise ValueError(f"packages.csv 第{line}行缺少代码或名称 / line {line}: code and name are required")
        rows.append(row)
    return rows


def _tier_rows() -> list[dict[str, Any]]:
    rows = []
    for item in _load_yaml("vip_tiers.yaml"):
        bill = item.get("min_avg_bill")
        rows.append(
            {
                "code": str(item["code"]),
                "name": str(item["name"]),
                "rank": int(item["rank"]),
                "enabled": bool(item.get("enabled", True)),
                "min_avg_bill": None if bill in (None, "") else Decimal(str(bill)),
                "benefits": str(item.get("benefits") or "").strip(),
            }
        )
    return rows


def _reference_rows() -> list[dict[str, Any]]:
    rows = []
    for kind, items in _load_yaml("reference.yaml").items():
        if kind not in ReferenceKind.values:
            raise ValueError(f"reference.yaml: 未知类别 / unknown kind {kind!r} ({', '.join(ReferenceKind.values)})")
        for rank, item in enumerate(items, start=1):
            rows.append(
                {
                    "kind": kind,
                    "code": str(item["code"]),
                    "rank": rank,
                    "name": str(item["name"]),
                    "name_en": str(item.get("name_en") or ""),
                    "identifier": str(item.get("identifier") or ""),
                    "detail": str(item.get("detail") or "").strip(),
                }
            )
    return rows


def catalog_install(*, installed_by: Any = None) -> dict[str, dict[str, int]]:
    """Install the shipped packages, VIP tiers and reference items (catalog/data/*); idempotent.

    Creates what is missing and never overwrites a row an operator edited. Returns
    {"packages", "vip_tiers", "reference_items"} → {"created", "unchanged", "edited"}.
    """
    with transaction.atomic():
        result = {
            "packages": install_rows(Package, _package_rows(), key=("code",)),
            "vip_tiers": install_rows(VipTier, _tier_rows(), key=("code",)),
            "reference_items": install_rows(ReferenceItem, _reference_rows(), key=("kind", "code")),
        }
        if any(counts["created"] for counts in result.values()):
            audit_record(actor=installed_by, verb="catalog.install", object_type="catalog.package", after=result)
    return result
