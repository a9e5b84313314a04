"""Fixtures for the Hugging Face tests, which run in .venv/hf (`make test`, tests/envs/transformers.in).

Every model is built in code from a tiny random config: nothing is ever downloaded. The two offline
switches below make transformers and huggingface_hub refuse the network instead of trying it, so a
test that reaches for a hub checkpoint fails at once with their offline error rather than hanging
on a machine without network. They are read when transformers is imported, hence module level here,
before any test module imports it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A not-yet-existing export folder: the converter creates it (an existing non-export is refused)."""
    return tmp_path / "export"
