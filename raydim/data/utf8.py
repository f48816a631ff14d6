"""Text files read as UTF-8 line by line, so a byte that is not UTF-8 is reported where it is.

Python's own decoding fails with ``UnicodeDecodeError`` and a position in a
buffer; a user needs the file, the line and the byte, and how to convert the
file (a Latin-1 or Windows-1252 export of a spreadsheet is the usual cause).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from raydim.errors import RaydimError

BOM = b"\xef\xbb\xbf"


def utf8_lines(path: Path) -> Iterator[str]:
    """The lines of ``path``, line endings kept (as ``open(newline='')`` gives them), a leading BOM dropped."""
    with path.open("rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if line_no == 1 and raw.startswith(BOM):
                raw = raw[len(BOM):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise RaydimError(_not_utf8(path, line_no, raw, e)) from None


def read_utf8(path: Path) -> str:
    """The whole of a (small) text file, checked as :func:`utf8_lines` checks it."""
    return "".join(utf8_lines(path))


def _not_utf8(path: Path, line_no: int, raw: bytes, error: UnicodeDecodeError) -> str:
    """The message for a line that is not UTF-8: file:line, column and byte, and the fix."""
    byte = raw[error.start]
    return (f"{path}:{line_no}: not UTF-8: byte 0x{byte:02x} at column {error.start + 1}; convert the file to UTF-8 from "
            f"its encoding, e.g. iconv -f latin1 -t utf-8 {path} > {path.with_stem(path.stem + '-utf8')}")
