"""``connectors.files.rows.json_line_blocks``: the one JSON-lines block splitter of the files
connector and Batch Ingestion's upload reader."""

from __future__ import annotations

import io

from xdmflow.connectors.files.rows import json_line_blocks


def test_blocks_hold_whole_lines_numbered_from_their_first_line() -> None:
    data = b'{"a": 1}\n{"a": 2}\n\n{"a": 3}\n{"a": 4}'  # a blank line, no final newline
    blocks = list(json_line_blocks(io.BytesIO(data).read, 12))
    assert all(block.endswith(b"\n") for _, block in blocks)
    assert b"".join(block for _, block in blocks) == data + b"\n"
    for line, block in blocks:  # each block starts at the line its number says
        assert data.split(b"\n")[line - 1] == block.split(b"\n")[0]
    assert [line for line, _ in blocks] == [1, 2, 4, 5]  # the blank line 3 rides with line 2


def test_a_line_longer_than_the_block_size_stays_whole() -> None:
    long = b'{"text": "' + b"x" * 100 + b'"}'
    blocks = list(json_line_blocks(io.BytesIO(long + b"\n" + b'{"b": 2}\n' + long).read, 16))
    assert blocks == [(1, long + b"\n" + b'{"b": 2}\n'), (3, long + b"\n")]


def test_blank_tail_and_empty_input_give_no_block() -> None:
    assert list(json_line_blocks(io.BytesIO(b"").read, 8)) == []
    assert list(json_line_blocks(io.BytesIO(b'{"a": 1}\n  \n').read, 64)) == [(1, b'{"a": 1}\n  \n')]
