"""Plain-text tables for terminal reports (aligned columns, numbers right-aligned)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Column = tuple[str, str, Callable[[Any], str]]  # (key, header, formatter)


def text(value: Any) -> str:
    return "-" if value is None else str(value)


def sci(value: float | None) -> str:
    """A difference or error in one-digit scientific notation (1.5e-06); "-" when there is none."""
    return "-" if value is None else f"{value:.1e}"


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    cells = [[fmt(row.get(key)) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    numeric = [all(_is_number(row.get(key)) for row in rows) and rows for key, _, _ in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[Column]) -> str:
    """The same rows and columns as a GitHub markdown table (for generated README files)."""
    lines = [
        "| " + " | ".join(_cell(header) for _, header, _ in columns) + " |",
        "|" + " --- |" * len(columns),
    ]
    lines += ["| " + " | ".join(_cell(fmt(row.get(key))) for key, _, fmt in columns) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: str) -> str:
    """One table cell: a `|` would end the cell and a newline the row (error texts hold both)."""
    return value.replace("|", "\\|").replace("\n", " ")
