"""Findings of `doctor`: one line per check, ok, warning or error; errors carry the code and the fix
of the error the same problem raises elsewhere."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jax2tfjs.errors import Jax2TfjsError

OK, WARNING, ERROR = "ok", "warning", "error"


@dataclass
class Finding:
    level: str
    check: str
    message: str
    code: str | None = None
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_error(check: str, err: Jax2TfjsError, level: str = ERROR) -> Finding:
    return Finding(level, check, err.cause, err.code, err.fix)


def healthy(findings: list[Finding]) -> bool:
    return not any(f.level == ERROR for f in findings)


def render(path: str | Path, kind: str, findings: list[Finding]) -> str:
    lines = [f"doctor: {path} ({kind})"]
    width = max((len(f.check) for f in findings), default=0)
    for f in findings:
        code = f"{f.code} " if f.code else ""
        lines.append(f"  {f.level:<8} {f.check:<{width}}  {code}{f.message}")
        if f.fix:
            lines.append(f"  {'':<8} {'':<{width}}  fix: {f.fix}")
    counts = {level: sum(f.level == level for f in findings) for level in (OK, WARNING, ERROR)}
    plural = {level: "" if n == 1 or level == OK else "s" for level, n in counts.items()}
    lines.append(
        f"summary: {counts[OK]} ok, {counts[WARNING]} warning{plural[WARNING]}, {counts[ERROR]} error{plural[ERROR]}"
    )
    return "\n".join(lines)
