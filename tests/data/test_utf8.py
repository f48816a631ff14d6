"""Input files that are not UTF-8: one line naming the file, the line, the column and the byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli import assert_one_line_error
from tests.data.glue_fixtures import write_glue

LATIN1_ROW = "café au lait".encode("latin-1")  # é is 0xe9 in Latin-1, not a UTF-8 sequence


def custom_file(folder: Path, kind: str) -> Path:
    """A custom task file whose third line holds a Latin-1 byte."""
    rows = {
        "csv": [b"text,label", b"good,pos", LATIN1_ROW + b",neg"],
        "tsv": [b"text\tlabel", b"good\tpos", LATIN1_ROW + b"\tneg"],
        "jsonl": [b'{"text": "good", "label": "pos"}', b'{"text": "bad", "label": "neg"}',
                  b'{"text": "' + LATIN1_ROW + b'", "label": "neg"}'],
    }[kind]
    path = folder / f"rows.{kind}"
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


@pytest.mark.parametrize("kind, column", [("csv", 4), ("tsv", 4), ("jsonl", 14)])
def test_a_custom_file_that_is_not_utf8_is_named_with_its_line_and_byte(kind, column, tmp_path, capsys):
    path = custom_file(tmp_path, kind)
    assert_one_line_error(capsys, ["tasks", "--task", "mine", "--train-file", str(path), "--eval-file", str(path),
                                   "--text-columns", "text"],
                          f"{path}:3: not UTF-8: byte 0xe9 at column {column}; convert the file to UTF-8")


def test_a_glue_tsv_that_is_not_utf8_is_named_with_its_line_and_byte(tmp_path, capsys):
    root = write_glue(tmp_path)
    dev = root / "RTE" / "dev.tsv"
    dev.write_bytes(b"index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\t" + LATIN1_ROW + b"\tb\tentailment\n")
    assert_one_line_error(capsys, ["tasks", "--task", "rte", "--data-dir", str(root)],
                          f"{dev}:3: not UTF-8: byte 0xe9 at column 6; convert the file to UTF-8 from its encoding, "
                          f"e.g. iconv -f latin1 -t utf-8 {dev} > {dev.parent / 'dev-utf8.tsv'}")


def test_a_search_space_that_is_not_utf8_is_named_with_its_line(tmp_path, capsys, no_ray):
    space = tmp_path / "space.yaml"
    space.write_bytes(b"tasks: [mrpc]\n# " + LATIN1_ROW + b"\n")
    assert_one_line_error(capsys, ["search", "--space", str(space), "--storage", str(tmp_path)],
                          f"{space}:2: not UTF-8: byte 0xe9 at column 6")


def test_a_byte_order_mark_is_not_text(tmp_path, capsys):
    from raydim.data.utf8 import utf8_lines

    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\r\ncaf\xc3\xa9,pos\r\n")
    assert list(utf8_lines(path)) == ["text,label\r\n", "café,pos\r\n"]


def test_a_custom_parquet_file_that_is_not_parquet_is_one_line(tmp_path, capsys):
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"")
    assert_one_line_error(capsys, ["tasks", "--task", "mine", "--train-file", str(path), "--eval-file", str(path),
                                   "--text-columns", "text"], f"{path}: not a readable Parquet file")
