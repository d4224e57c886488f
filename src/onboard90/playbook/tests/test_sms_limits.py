"""A playbook whose SMS would go as more parts than its `sms_max_parts` for any package of the catalogue is
refused at publishing, naming the act and the package; the parts are counted as the gateway splits them."""

from __future__ import annotations

import pytest

from onboard90.catalog import services as catalog_services
from onboard90.catalog.models import Package
from onboard90.catalog.selectors import package_context
from onboard90.playbook import content, schema, services, templating

PACKAGES = [package_context(Package(**row)) for row in catalog_services._package_rows()]


def _action(document: dict, code: str) -> dict:
    return next(a for stage in document["stages"] for a in stage["actions"] if a["code"] == code)


def _long_for_the_big_data_card(document: dict) -> None:
    # Only the 200元 data card's text runs long: the check must try every package, not one per family.
    _action(document, "tariff_notice")["sms"]["by_family"]["datacard"] = (
        "{{ package.name }}，每月{{ package.data_mb|data }}。"
        '{% if package.code == "D200" %}' + "流量用尽后按每MB计费，请留意用量提醒。" * 12 + "{% endif %}"
    )


def test_a_text_too_long_for_one_package_is_refused_naming_the_act_and_the_package():
    document = services.default_document()
    _long_for_the_big_data_card(document)
    with pytest.raises(schema.PlaybookError) as refused:
        content.validate_document(document, packages=PACKAGES)
    too_long = [p for p in refused.value.problems if "sms_max_parts" in p]
    assert too_long and all("package D200" in p and ".sms.by_family.datacard" in p for p in too_long)
    assert not any("package D80" in p or "package D150" in p for p in refused.value.problems)


def test_a_playbook_that_allows_more_parts_publishes_the_same_text():
    document = services.default_document()
    _long_for_the_big_data_card(document)
    document["sms_max_parts"] = 6
    playbook, _warnings = content.validate_document(document, packages=PACKAGES)
    assert playbook.sms_max_parts == 6


def test_the_shipped_playbook_fits_every_package_of_the_catalogue():
    playbook, _warnings = content.validate_document(services.default_document(), packages=PACKAGES)
    assert playbook.sms_max_parts == 3


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("欢" * 70, 1), ("欢" * 71, 2), ("欢" * 134, 2), ("欢" * 135, 3),  # UCS-2: 70, then 67 a part
        ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),  # GSM 7-bit: 160, then 153 a part
        ("[" * 80, 1), ("[" * 81, 2),  # an extension character takes two septets
        ("a" * 100 + "`", 2),  # one character outside the GSM alphabet sends the whole text as UCS-2
    ],
)
def test_sms_parts_are_counted_as_the_gateway_splits_them(text: str, parts: int):
    assert templating.segments(text) == parts
