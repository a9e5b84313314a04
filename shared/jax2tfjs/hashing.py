"""File digests, for manifests and integrity checks, and the seal of an export.

An export's seal is what report.json records of its files at conversion (`SEAL_KEY`: name → sha256
and byte count of model.json, every weight shard and golden.json). verify and doctor compare the
folder with it before anything else, so a tampered or truncated file is named, not run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jax2tfjs.errors import ExportIntegrityError

SEAL_KEY = "sealed"
# report.json's "format": 2 and later always carry a seal, so a report of that format without one
# was edited (the seal deleted to hide a change), not converted by an older jax2tfjs.
FORMAT_KEY = "format"
SEALED_FORMAT = 2
UNSEALED = (
    "not sealed (converted by an older jax2tfjs): its files cannot be checked for tampering; "
    "re-run `make convert` for it to seal it"
)


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_seal(folder: str | Path, names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """name → {"sha256", "bytes"} of each named file in `folder`."""
    folder = Path(folder)
    return {
        name: {"sha256": sha256_file(folder / name), "bytes": (folder / name).stat().st_size}
        for name in sorted(names)
    }


def _broken(folder: Path, name: str, recorded: Any) -> str | None:
    """Why `name` no longer matches its record; None when it does."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("sha256"), str):
        return f"report.json's record of {name} is malformed"
    path = folder / name
    if not path.is_file():
        return f"{name} is missing"
    size = path.stat().st_size
    if size != recorded.get("bytes"):
        return f"{name} holds {size:,} bytes; report.json recorded {recorded.get('bytes')} at conversion"
    digest = sha256_file(path)
    if digest != recorded["sha256"]:
        return f"{name} has sha256 {digest[:12]}… but report.json recorded {recorded['sha256'][:12]}… at conversion"
    return None


def seal_breaks(folder: str | Path, seal: Any) -> list[str]:
    """What in `folder` no longer matches `seal` (file_seal's record), one line per file: missing,
    resized or changed. Empty when every recorded file is intact."""
    if not isinstance(seal, dict) or not seal:
        return ["report.json's seal is malformed (not a table of files)"]
    found = (_broken(Path(folder), str(name), recorded) for name, recorded in sorted(seal.items()))
    return [reason for reason in found if reason is not None]


def check_seal(folder: str | Path, report: dict[str, Any]) -> str | None:
    """The export in `folder` against its parsed report.json: ExportIntegrityError naming every file
    changed since conversion (or a seal removed from a sealed-format report), the UNSEALED note for an
    export older than seals, None when every sealed file is intact."""
    folder = Path(folder)
    if SEAL_KEY not in report:
        if not isinstance(report.get(FORMAT_KEY), int) or report[FORMAT_KEY] < SEALED_FORMAT:
            return UNSEALED
        breaks = [f"report.json (format {report[FORMAT_KEY]}) lost its seal: it was edited after conversion"]
    else:
        breaks = seal_breaks(folder, report[SEAL_KEY])
    if not breaks:
        return None
    raise ExportIntegrityError(
        f"the export's files differ from what report.json sealed at conversion: {'; '.join(breaks)}",
        fix=f"convert it again (`make convert MODEL={folder.parent.name} QUANT={folder.name}`); never edit "
        "an export by hand",
        path=folder,
    )
