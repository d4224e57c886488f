"""Reading import files: CSV (UTF-8, UTF-8 with BOM or GBK, detected) and XLSX into numbered rows, and
JSON lines for events; plus the error files that go back beside the input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

XLSX_SUFFIXES = {".xlsx", ".xlsm"}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 binary .xls
# Columns the error file adds; dropped from the input header so re-importing a corrected error file works.
ERROR_COLUMNS = ("line", "reason")


class UnusableFile(Exception):
    """The file as a whole cannot be imported (exit code 2); the message is one line, Chinese / English."""


@dataclass(frozen=True)
class Row:
    line: int  # line number in the file; the header is line 1
    values: dict[str, str]  # normalised column name -> stripped text
    cells: list[str]  # the cells as read, in header order, for the error file
    error: str = ""  # why the row cannot be read as the header says (the import rejects it with this)


@dataclass
class Table:
    path: Path
    format: str  # "csv" or "xlsx"
    encoding: str | None
    header: list[str]  # as written in the file
    keys: list[str]  # normalised column names, same order
    estimated_rows: int | None
    _rows: Iterator[Row] = field(repr=False)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(self.keys)

    def rows(self) -> Iterator[Row]:
        return self._rows


def normalise_column(name: Any) -> str:
    text = "" if name is None else str(name)
    return text.replace("\ufeff", "").strip().lower().replace(" ", "_").replace("-", "_")


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError:
            raise UnusableFile("文件有UTF-8标记但内容不是UTF-8 / the file has a UTF-8 BOM but is not UTF-8") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnusableFile("不支持UTF-16编码,请另存为UTF-8或GBK / UTF-16 is not supported; save as UTF-8 or GBK")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        raise UnusableFile("无法识别文件编码(应为UTF-8或GBK) / unreadable encoding (expected UTF-8 or GBK)") from None


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise UnusableFile(f"文件不存在 / no such file: {path}")
    if not path.is_file():
        raise UnusableFile(f"不是文件 / not a file: {path}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnusableFile(f"无法读取文件 / cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise UnusableFile(f"文件为空 / the file is empty: {path.name}")
    return data


def _check_header(keys: list[str], required: Sequence[str]) -> None:
    missing = [name for name in required if name not in keys]
    if missing:
        raise UnusableFile(f"缺少必需列 / missing required columns: {', '.join(missing)}")


def open_table(path: str | Path, *, required: Sequence[str]) -> Table:
    """Open a CSV or XLSX file and check its header; raises UnusableFile. Rows are read lazily."""
    path = Path(path)
    data = _read_bytes(path)
    if data.startswith(_OLE_MAGIC) or path.suffix.lower() == ".xls":
        raise UnusableFile("不支持旧版.xls,请另存为.xlsx或CSV / .xls is not supported; save as .xlsx or CSV")
    if path.suffix.lower() in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        return _open_xlsx(path, data, required)
    return _open_csv(path, data, required)


def _open_csv(path: Path, data: bytes, required: Sequence[str]) -> Table:
    text, encoding = decode(data)
    if "\x00" in text:
        raise UnusableFile(f"不是文本文件 / not a text (CSV) file: {path.name}")
    # The csv module refuses a field over 128 KiB (field_size_limit) with an error that would end the whole
    # file. The file is in memory already, so the limit protects nothing here: raise it to the file's size
    # (never lower it) and let the row's own checks refuse an oversized cell with its column's name.
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    first_line = text.split("\n", 1)[0]
    # Some BSS exports are tab-separated with a .csv name; a header never has a tab otherwise.
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise UnusableFile(f"无法读取表头 / cannot read the header row: {exc}") from None
    header = [cell.strip() for cell in header]
    keys = [normalise_column(cell) for cell in header]
    _check_header(keys, required)

    def rows() -> Iterator[Row]:
        start = reader.line_num + 1
        try:
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue
                yield _row(line, keys, cells)
        except csv.Error as exc:
            raise UnusableFile(f"第{start}行CSV格式错误 / malformed CSV at line {start}: {exc}") from None

    return Table(path, "csv", encoding, header, keys, max(text.count("\n") - 1, 0), rows())


def _too_many(count: int, keys: list[str]) -> str:
    return f"列数多于表头({count} > {len(keys)}) / row has more columns than the header ({count} > {len(keys)})"


def _row(line: int, keys: list[str], cells: list[str], *, error: str = "") -> Row:
    if not error and len(cells) > len(keys):
        # A comma inside an unquoted cell (a name, an address) shifts every later value into the wrong
        # column; importing such a row would file wrong values under right names.
        error = _too_many(len(cells), keys)
    cells = list(cells) + [""] * (len(keys) - len(cells))
    values: dict[str, str] = {}
    for key, cell in zip(keys, cells, strict=False):
        if key and key not in values:  # the first of two same-named columns wins
            values[key] = cell.strip()
    return Row(line, values, cells[: len(keys)], error)


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export would have held."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    if isinstance(value, float):
        # Numbers typed into Excel (phone numbers, area codes, amounts) come back as floats.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _open_xlsx(path: Path, data: bytes, required: Sequence[str]) -> Table:
    # heavy (openpyxl, ~0.5 s): only an .xlsx file needs it, and the importers' services import this module
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException  # openpyxl: see above

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise UnusableFile(f"无法读取Excel文件 / cannot read the XLSX file: {exc}") from None
    if not workbook.worksheets:
        workbook.close()
        raise UnusableFile("Excel文件没有工作表 / the XLSX file has no sheet")
    sheet = workbook.worksheets[0]
    iterator = sheet.iter_rows(values_only=True)
    header_cells = next(iterator, None)
    if header_cells is None or not any(cell is not None for cell in header_cells):
        workbook.close()
        raise UnusableFile(f"文件为空 / the file is empty: {path.name}")
    header = [cell_text(cell) for cell in header_cells]
    while header and not header[-1]:
        header.pop()
    keys = [normalise_column(cell) for cell in header]
    try:
        _check_header(keys, required)
    except UnusableFile:
        workbook.close()
        raise
    estimated = (sheet.max_row - 1) if sheet.max_row else None

    def rows() -> Iterator[Row]:
        try:
            for line, cells in enumerate(iterator, start=2):
                texts = [cell_text(cell) for cell in cells]
                if not any(texts):
                    continue
                # A sheet's rows run to its widest used column, so empty cells past the header are normal;
                # a value there has no column name and is a misplaced one.
                used = max(i for i, text in enumerate(texts) if text) + 1
                error = _too_many(used, keys) if used > len(keys) else ""
                yield _row(line, keys, texts[: len(keys)], error=error)
        finally:
            workbook.close()

    return Table(path, "xlsx", None, header, keys, estimated, rows())


@dataclass(frozen=True)
class JsonLine:
    line: int
    raw: str
    obj: Any = None  # the parsed value, when the line is JSON
    error: str = ""  # why the line is not JSON


def open_json_lines(path: str | Path) -> tuple[int, Iterator[JsonLine]]:
    """(estimated line count, lines) of a JSON-lines file; blank lines are skipped. Raises UnusableFile."""
    path = Path(path)
    text, _encoding = decode(_read_bytes(path))
    lines = text.splitlines()

    def items() -> Iterator[JsonLine]:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                yield JsonLine(number, raw, json.loads(raw))
            except json.JSONDecodeError as exc:
                yield JsonLine(number, raw, None, f"{exc.msg} (column {exc.colno})")

    return len(lines), items()


def error_path_for(path: str | Path, *, jsonl: bool = False) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}.errors.{'jsonl' if jsonl else 'csv'}")


class CsvErrorWriter:
    """The rejected rows of a table, beside the input: same columns plus `line` and `reason`.

    UTF-8 with BOM so that Excel shows the Chinese. Opened on the first rejection only.
    """

    def __init__(self, table: Table):
        self.path = error_path_for(table.path)
        keep = [i for i, key in enumerate(table.keys) if key not in ERROR_COLUMNS]
        self._keep = keep
        self._header = [table.header[i] for i in keep] + list(ERROR_COLUMNS)
        self._file: io.TextIOBase | None = None
        self._writer: Any = None
        self.count = 0

    def write(self, row: Row, reason: str) -> None:
        if self._file is None:
            self._file = open(self.path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._file)
            self._writer.writerow(self._header)
        self._writer.writerow([row.cells[i] if i < len(row.cells) else "" for i in self._keep] + [row.line, reason])
        self.count += 1

    def close(self) -> Path | None:
        """Finish the file; with no rejections, remove a stale one from an earlier run. Returns its path."""
        if self._file is not None:
            self._file.close()
            return self.path
        self.path.unlink(missing_ok=True)
        return None


class JsonErrorWriter:
    """Rejected event lines, beside the input as `<stem>.errors.jsonl`: the object plus `line` and `reason`."""

    def __init__(self, path: str | Path):
        self.path = error_path_for(path, jsonl=True)
        self._file: io.TextIOBase | None = None
        self.count = 0

    def write(self, item: JsonLine, reason: str) -> None:
        if self._file is None:
            self._file = open(self.path, "w", encoding="utf-8")  # noqa: SIM115
        record = dict(item.obj) if isinstance(item.obj, dict) else {"raw": item.raw}
        record["line"] = item.line
        record["reason"] = reason
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self.count += 1

    def close(self) -> Path | None:
        if self._file is not None:
            self._file.close()
            return self.path
        self.path.unlink(missing_ok=True)
        return None
