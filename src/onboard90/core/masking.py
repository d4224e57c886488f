"""Masking of personal data in lists and exports (脱敏): `186****1234`, `张*`. Plain functions, no database.

The full number appears only on the customer page, and each such view is audited; every list, search
result, chart and export shows these forms.
"""

from __future__ import annotations


def mask_msisdn(msisdn: str | None) -> str:
    """`18612341234` → `186****1234`; anything that is not an 11-digit mobile number keeps only its last 4."""
    text = (msisdn or "").strip()
    if len(text) == 11:
        return f"{text[:3]}****{text[-4:]}"
    if len(text) > 4:
        return "*" * (len(text) - 4) + text[-4:]
    return "*" * len(text)


def mask_name(name: str | None) -> str:
    """`张三` → `张*`, `欧阳娜娜` → `欧***`, `Li Lei` → `L*****`: the first character, then one star a character."""
    text = (name or "").strip()
    if not text:
        return ""
    return text[0] + "*" * max(len(text) - 1, 1)
