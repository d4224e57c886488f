"""The English catalog: complete, compiled, and actually used (msgids are the Chinese source texts).

The catalog lives in src/onboard90/locale/en/LC_MESSAGES/; src/onboard90/locale/README.md says how to
refresh it after new `_()` texts are added to the code.
"""

from __future__ import annotations

import ast
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise

from onboard90.customers.enums import FirstMonth
from onboard90.customers.models import Customer
from onboard90.journeys.enums import ActionStatus, JourneyStatus
from onboard90.journeys.models import JourneyAction
from onboard90.org.enums import Role, UnitKind

LC_MESSAGES = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"
REFRESH = "refresh the catalog: see src/onboard90/locale/README.md"

# msgids that are meant to stay Latin in the Chinese UI too.
NON_CHINESE_MSGIDS = {"VIP"}
# A fresh checkout writes django.mo and django.po a moment apart; a forgotten compile is older by far more.
MTIME_SLACK_SECONDS = 5.0


@dataclass
class Entry:
    line: int
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def mo_key(self) -> str:
        key = self.msgid if self.msgid_plural is None else f"{self.msgid}\x00{self.msgid_plural}"
        return key if self.msgctxt is None else f"{self.msgctxt}\x04{key}"

    @property
    def mo_value(self) -> str:
        return "\x00".join(self.msgstr[i] for i in sorted(self.msgstr))


_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")$')


def parse_po(path: Path) -> list[Entry]:
    """A small PO reader: contexts, plurals, flags and continued strings; obsolete (#~) entries skipped."""
    entries: list[Entry] = []
    current: Entry | None = None
    flags: set[str] = set()
    target: tuple[str, int | None] | None = None

    def append(text: str) -> None:
        assert current is not None and target is not None
        name, index = target
        if name == "msgstr":
            current.msgstr[index or 0] += text
        else:
            setattr(current, name, (getattr(current, name) or "") + text)

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#,"):
            flags |= {flag.strip() for flag in line[2:].split(",")}
            continue
        if line.startswith("#"):
            continue
        if line.startswith('"'):
            append(ast.literal_eval(line))
            continue
        match = _KEYWORD.match(line)
        assert match, f"{path.name}:{number}: cannot read {raw!r}"
        keyword, index, value = match.group(1), match.group(2), ast.literal_eval(match.group(3))
        starts_entry = keyword == "msgctxt" or (keyword == "msgid" and (current is None or current.msgstr))
        if starts_entry:
            current = Entry(line=number, flags=flags)
            entries.append(current)
            flags = set()
        assert current is not None, f"{path.name}:{number}: {keyword} outside an entry"
        if keyword.startswith("msgstr"):
            target = ("msgstr", int(index) if index is not None else 0)
            current.msgstr[target[1]] = ""
        else:
            target = (keyword, None)
            setattr(current, keyword, "")
        append(value)
    return entries


def read_mo(path: Path) -> dict[str, str]:
    """The (key → translation) table of a compiled GNU .mo file."""
    data = path.read_bytes()
    (magic,) = struct.unpack("<I", data[:4])
    order = {0x950412DE: "<", 0xDE120495: ">"}[magic]
    _revision, count, originals, translations = struct.unpack(order + "4I", data[4:20])

    def string(table: int, i: int) -> str:
        length, offset = struct.unpack(order + "2I", data[table + 8 * i : table + 8 * i + 8])
        return data[offset : offset + length].decode("utf-8")

    return {string(originals, i): string(translations, i) for i in range(count)}


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    assert PO.is_file(), f"{PO} is missing; {REFRESH}"
    return parse_po(PO)


@pytest.fixture(scope="module")
def messages(entries) -> list[Entry]:
    return [entry for entry in entries if not entry.is_header]


# --- the catalog files --------------------------------------------------------------------------


def test_the_catalog_is_an_english_utf8_catalog(entries, messages):
    headers = [entry for entry in entries if entry.is_header]
    assert len(headers) == 1
    header = headers[0].msgstr[0]
    assert "Language: en\n" in header
    assert "charset=UTF-8" in header
    assert "fuzzy" not in headers[0].flags, "a fuzzy header is dropped by msgfmt, and with it the charset"
    assert len(messages) > 100


def test_every_entry_is_translated_and_none_is_fuzzy(messages):
    empty = [f"line {e.line}: {e.msgid}" for e in messages if not all(e.msgstr.values())]
    fuzzy = [f"line {e.line}: {e.msgid}" for e in messages if "fuzzy" in e.flags]
    assert not empty, f"untranslated entries in {PO.name}: {empty}"
    assert not fuzzy, f"fuzzy entries in {PO.name} (check the msgstr, then drop the flag): {fuzzy}"


def test_msgids_are_the_chinese_texts(messages):
    latin = [
        f"line {e.line}: {e.msgid}"
        for e in messages
        if e.msgid not in NON_CHINESE_MSGIDS and not re.search(r"[\u3400-\u9fff]", e.msgid)
    ]
    assert not latin, f"msgids should be the Chinese UI text, not English: {latin}"


def test_the_compiled_catalog_matches_the_po(messages):
    assert MO.is_file(), f"{MO} is missing; {REFRESH}"
    compiled = read_mo(MO)
    compiled.pop("", None)  # the header
    # What msgfmt compiles: no fuzzy entries, none whose (first) msgstr is empty.
    expected = {e.mo_key: e.mo_value for e in messages if e.msgstr.get(0) and "fuzzy" not in e.flags}
    stale = sorted(set(expected.items()) ^ set(compiled.items()))
    assert not stale, f"django.mo is out of date with django.po ({len(stale)} differences); {REFRESH}"


def test_the_compiled_catalog_is_not_older_than_the_po():
    lag = PO.stat().st_mtime - MO.stat().st_mtime
    assert lag <= MTIME_SLACK_SECONDS, f"django.mo is {lag:.0f} s older than django.po; {REFRESH}"


def test_every_model_and_choice_text_is_in_the_catalog(messages):
    """Names of apps, models and fields, and choice labels: each lazy text has an English entry."""
    translated = {e.msgid for e in messages if e.msgctxt is None and all(e.msgstr.values())}
    texts: list[tuple[str, Promise]] = []
    for app in apps.get_app_configs():
        if not app.name.startswith("onboard90."):
            continue
        texts.append((f"app {app.label}", app.verbose_name))
        for model in app.get_models():
            where = f"{app.label}.{model.__name__}"
            texts += [(where, model._meta.verbose_name), (where, model._meta.verbose_name_plural)]
            for fld in model._meta.get_fields():
                if fld.auto_created or not fld.concrete:
                    continue
                texts.append((f"{where}.{fld.name}", fld.verbose_name))
                texts += [(f"{where}.{fld.name} choice", label) for _value, label in fld.flatchoices]
    missing = set()
    with translation.override("zh-hans"):
        for where, text in texts:
            if isinstance(text, Promise) and str(text) not in translated:
                missing.add(f"{where}: {text}")
    assert not missing, f"texts missing from {PO.name}: {sorted(missing)}; {REFRESH}"


# --- the catalog in use ------------------------------------------------------------------------


def english_and_chinese():
    customer_field = Customer._meta.get_field
    return [
        (lambda: Customer._meta.verbose_name, "customer", "客户"),
        (lambda: JourneyAction._meta.verbose_name, "service act", "服务动作"),
        (lambda: customer_field("first_month").verbose_name, "first-month tariff", "首月资费"),
        (lambda: customer_field("store").verbose_name, "activation store", "受理营业厅"),
        (lambda: apps.get_app_config("journeys").verbose_name, "onboarding journey", "导入期旅程"),
        (lambda: JourneyStatus.ACTIVE.label, "In progress", "进行中"),
        (lambda: ActionStatus.DONE.label, "Done on time", "按时完成"),
        (lambda: ActionStatus.DONE_LATE.label, "Done late", "超时完成"),
        (lambda: ActionStatus.MISSED.label, "Missed", "未完成"),
        (lambda: ActionStatus.NOT_APPLICABLE.label, "Not applicable", "不适用"),
        (lambda: ActionStatus.SUPERSEDED.label, "Superseded", "已被替代"),
        (lambda: UnitKind.STORE.label, "Store", "营业厅"),
        (lambda: UnitKind.CLUB.label, "Customer club", "客户俱乐部"),
        (lambda: UnitKind.CALL_CENTRE.label, "10010 call centre", "客服中心(10010)"),
        (lambda: Role.ACCOUNT_MANAGER.label, "Account manager", "客户经理"),
        (lambda: FirstMonth.HALF.label, "Half month", "套餐减半"),
        (lambda: Customer(first_month="outside").get_first_month_display(), "Out-of-package rates", "套餐包外资费"),
    ]


@pytest.mark.parametrize(("text", "english", "chinese"), english_and_chinese())
def test_texts_are_english_in_english_and_chinese_by_default(text, english, chinese):
    with translation.override("en"):
        assert str(text()) == english
    with translation.override("zh-hans"):
        assert str(text()) == chinese
    assert settings.LANGUAGE_CODE == "zh-hans"


@pytest.mark.parametrize(
    ("accept_language", "lang", "words"),
    [("en", "en", ["Username", "Password", "Log in"]), ("zh-hans", "zh-hans", ["用户名", "密码", "登录"])],
)
def test_the_admin_login_page_follows_accept_language(client, accept_language, lang, words):
    response = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=accept_language)
    assert response.status_code == 200
    assert response["Content-Language"] == lang
    body = response.content.decode()
    assert f'lang="{lang}"' in body
    for word in words:
        assert word in body


def test_the_admin_login_page_is_chinese_without_accept_language(client):
    body = client.get("/admin/login/").content.decode()
    assert 'lang="zh-hans"' in body and "用户名" in body


@pytest.mark.django_db
def test_the_admin_index_is_all_english_in_english(admin_client):
    body = admin_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for name in [
        "Product catalogue",
        "Organisation",
        "Onboarding journey",
        "Daily cycle run",
        "Staff member",
    ]:
        assert name in body
    assert not re.findall(r"[\u3400-\u9fff]+", body)
