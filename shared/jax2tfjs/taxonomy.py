"""The error taxonomy, read from the error classes themselves (`jax2tfjs.errors`).

Every class registers its code when it is defined (a duplicate code fails at import) and carries a
summary, an example cause and fix, and what auto-fix does about it. This module lists them in code
order, grouped by area (the code's first digit), for docs/troubleshooting.md and `doctor`.
"""

from __future__ import annotations

from dataclasses import dataclass

from jax2tfjs import errors

# The first digit of a code names the stage it comes from.
AREAS = {
    "1": "data (`make data`)",
    "2": "training and checkpoints (`make train`, `make check`)",
    "3": "conversion (`to_tensorflowjs`, `make convert`, `doctor`)",
    "4": "every job's arguments, volumes and locks",
    "9": "every job",
}


@dataclass(frozen=True)
class Entry:
    code: str
    name: str  # the class name, e.g. ParamKeysError
    parent: str  # the class it subclasses (what `except` catches it as)
    area: str
    summary: str
    example: str  # the message as users see it
    fix: str
    autofix: str
    exit_code: int


def entries() -> list[Entry]:
    rows = []
    for code, cls in sorted(errors.BY_CODE.items()):
        rows.append(
            Entry(
                code=code,
                name=cls.__name__,
                parent=cls.__mro__[1].__name__,
                area=AREAS.get(code[3], "other"),
                summary=cls.summary,
                example=str(cls.example()),
                fix=cls.example_fix,
                autofix=cls.autofix,
                exit_code=cls.exit_code,
            )
        )
    return rows


def by_code(code: str) -> Entry:
    for entry in entries():
        if entry.code == code:
            return entry
    raise KeyError(f"no error code {code} (known: {', '.join(errors.BY_CODE)})")
