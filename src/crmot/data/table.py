"""Comma-separated numeric tables (MOT rows), parsed and formatted without a Python object per row."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from crmot.data.errors import CRTrackFormatError
from crmot.data.text import read_text


def read_table(path: str | os.PathLike, min_columns: int) -> np.ndarray:
    """Read a comma-separated numeric file into a float64 array of shape (rows, columns).

    Every row must have the same number of columns (at least ``min_columns``); blank lines are
    skipped. A malformed row raises :class:`CRTrackFormatError` naming the file and line.
    """
    path = Path(path)
    return parse_table(read_text(path), path, min_columns)


def parse_table(text: str, path: str | os.PathLike, min_columns: int) -> np.ndarray:
    lines = text.splitlines()
    keep = [i for i, line in enumerate(lines) if line.strip()]
    if not keep:
        return np.zeros((0, min_columns), dtype=np.float64)
    if len(keep) != len(lines):
        lines = [lines[i] for i in keep]
    counts = np.fromiter((line.count(",") for line in lines), dtype=np.int64, count=len(lines)) + 1
    columns = int(counts[0])
    bad = np.flatnonzero(counts != columns)
    if bad.size:
        i = int(bad[0])
        raise CRTrackFormatError(
            path, f"expected {columns} comma-separated values, found {counts[i]}: {lines[i]!r}", keep[i] + 1
        )
    if columns < min_columns:
        raise CRTrackFormatError(path, f"expected at least {min_columns} values per row, found {columns}", keep[0] + 1)
    try:  # numpy stops (older: warns, newer: raises) at the first token that is no number
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            values = np.fromstring(",".join(lines), dtype=np.float64, sep=",")
    except ValueError:
        values = np.zeros(0)
    if values.size != len(lines) * columns:
        raise _first_bad_value(lines, keep, path)
    table = values.reshape(len(lines), columns)
    if not np.isfinite(table).all():
        i = int(np.flatnonzero(~np.isfinite(table).all(axis=1))[0])
        raise CRTrackFormatError(path, f"non-finite value in row {lines[i]!r}", keep[i] + 1)
    return table


def _first_bad_value(lines: list[str], keep: list[int], path) -> CRTrackFormatError:
    for i, line in enumerate(lines):  # slow path, only taken to report the error
        for token in line.split(","):
            try:
                float(token)
            except ValueError:
                return CRTrackFormatError(path, f"not a number: {token.strip()!r} in row {line!r}", keep[i] + 1)
    return CRTrackFormatError(path, "unparseable numbers")


def format_numbers(values: np.ndarray) -> np.ndarray:
    """Text of each value: integers without a decimal point, other values as Python's shortest repr."""
    values = np.asarray(values, dtype=np.float64)
    integral = values == np.round(values)
    text = np.where(integral, values, 0).astype(np.int64).astype(str).astype(object)
    if not integral.all():
        text[~integral] = [repr(float(v)) for v in values[~integral]]
    return text


def format_table(columns: list[np.ndarray]) -> str:
    """Comma-separated rows from equally long columns, one line per row, newline-terminated."""
    if not columns or len(columns[0]) == 0:
        return ""
    text = [format_numbers(col) for col in columns]
    return "".join(",".join(row) + "\n" for row in zip(*text))
