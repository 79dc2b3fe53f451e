"""Plain helpers shared by the export formats: CSV cells that a spreadsheet will not execute,
JSON written a piece at a time, and batches of an iterator."""

import csv
import io
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

T = TypeVar("T")

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
_FORMULA_STARTS = frozenset("=+-@\t\r\n")


def safe_cell(value: Any) -> str:
    """The cell as text; a formula-like or control-character start is defused with a quote."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text and (text[0] in _FORMULA_STARTS or ord(text[0]) < 0x20 or text[0] == "\x7f"):
        return "'" + text
    return text


def csv_line(cells: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def json_text(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, indent=indent, default=str)


def json_array(items: Iterable[Any]) -> Iterator[str]:
    """A JSON array, one element at a time."""
    yield "["
    for number, item in enumerate(items):
        yield ("," if number else "") + "\n" + json_text(item)
    yield "\n]"


def json_object(fields: Iterable[tuple[str, Any]]) -> Iterator[str]:
    """A JSON object whose values may be iterators of text (already JSON) or plain values."""
    yield "{"
    for number, (key, value) in enumerate(fields):
        yield ("," if number else "") + "\n" + json.dumps(key) + ": "
        if isinstance(value, Iterator):
            yield from value
        else:
            yield json_text(value)
    yield "\n}\n"


def batched(iterable: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch
