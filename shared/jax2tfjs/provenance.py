"""Package versions recorded in every artifact (checkpoint metadata, export metadata)."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
