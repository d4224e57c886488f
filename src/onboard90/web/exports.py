"""Excel exports of the web's tables: the numbers on the page, in the same order, as a workbook.

Every table a supervisor or the administrator sees on the dashboard or the escalations list exports
through `xlsx_response`, so an export can never show more than its page (the rows come from the same
scoped selector) nor differ from it. Personal data is masked by the selector before it gets here.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

from django.http import HttpResponse
from django.utils import timezone

PERCENT = "percent"


def xlsx_response(
    *, filename: str, title: str, headers: Sequence[str], rows: Iterable[Sequence], percent_columns: Sequence[int] = (),
) -> HttpResponse:
    """An .xlsx download: a title row, the header row, the rows. `percent_columns` (0-based) hold fractions
    (0.953) shown as percentages, as the page shows them; None stays an empty cell ("—" on the page)."""
    # heavy (openpyxl, ~0.5 s): only an export needs it, and the pages import this module
    from openpyxl import Workbook
    from openpyxl.styles import Font  # openpyxl: see above

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31] or "sheet"
    sheet.append([title, f"导出时间 / exported {timezone.localtime():%Y-%m-%d %H:%M}"])
    sheet["A1"].font = Font(bold=True)
    sheet.append(list(headers))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(value) for value in row])
        for index in percent_columns:
            sheet.cell(row=sheet.max_row, column=index + 1).number_format = "0.0%"
    for column, header in enumerate(headers, start=1):
        sheet.column_dimensions[sheet.cell(row=2, column=column).column_letter].width = max(10, min(40, 2 * len(str(header)) + 2))
    buffer = io.BytesIO()
    book.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _cell(value):
    if value is None:
        return None
    if isinstance(value, (int, float, str)):
        return value
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
        return timezone.localtime(value).replace(tzinfo=None)
    return str(value) if not hasattr(value, "isoformat") else value
