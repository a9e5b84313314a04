"""golden.json: a few inputs and JAX's outputs for them, written at conversion beside model.json.

Every check of an export starts here: verify and doctor run TF.js on the inputs and compare with
the outputs, the web page self-checks with them, and the error corpus reads how the SavedModel
matched them at conversion (`savedmodel`, the converter's own check under jax2tfjs.compare).
This module is the only one that knows the file's layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs import atomic
from jax2tfjs.compare import Comparison
from jax2tfjs.errors import ExportError, NonFiniteError

GOLDEN_FILE = "golden.json"
_NOTE = "JAX's outputs for these inputs; runners and the web page self-check against them"
_FIX = "re-run the conversion (`make convert`, or `to_tensorflowjs`), which writes it"


@dataclass(frozen=True)
class Golden:
    inputs: np.ndarray  # float32, as the runners send them
    outputs: np.ndarray  # JAX's, float64 so comparisons add no rounding of their own
    savedmodel: dict[str, Any] | None = None  # Comparison.to_dict() of the conversion's check

    @property
    def savedmodel_rel_err(self) -> float | None:
        return None if self.savedmodel is None else self.savedmodel.get("rel_err")


def write(
    folder: Path, inputs: np.ndarray, outputs: np.ndarray, savedmodel: Comparison | None = None
) -> None:
    payload: dict[str, Any] = {
        "input_shape": list(inputs.shape),
        "inputs": inputs.tolist(),
        "outputs": outputs.tolist(),
        "note": _NOTE,
    }
    if savedmodel is not None:
        # JSON has no inf/NaN (Python writes `Infinity`, which the web page's JSON.parse rejects): a
        # non-finite figure of a failed check is written as null.
        payload["savedmodel"] = {
            key: value if value is None or np.isfinite(value) else None
            for key, value in savedmodel.to_dict().items()
        }
    atomic.write_json(Path(folder) / GOLDEN_FILE, payload)


def read(folder: Path) -> Golden:
    """golden.json of the export in `folder`; ExportError (with the folder) when missing or malformed,
    NonFiniteError when its outputs hold NaN or inf (written before conversions refused them: Python
    reads them, JSON.parse in Node and the page does not)."""
    path = Path(folder) / GOLDEN_FILE
    if not path.exists():
        raise ExportError(
            "golden.json is missing, so there is nothing to check TF.js against", fix=_FIX, path=folder
        )
    try:
        raw = json.loads(path.read_text())
        inputs = np.asarray(raw["inputs"], np.float32).reshape(raw["input_shape"])
        outputs = np.asarray(raw["outputs"], np.float64)
    except (OSError, KeyError, ValueError, TypeError) as err:
        # ValueError covers bad JSON, ragged lists and an input count that does not fit input_shape.
        raise ExportError(f"golden.json is malformed: {err}", fix=_FIX, path=folder) from err
    if not np.all(np.isfinite(outputs)):
        bad = int(outputs.size - np.count_nonzero(np.isfinite(outputs)))
        raise NonFiniteError(
            f"golden.json's outputs hold NaN or inf ({bad:,} of {outputs.size:,} values): the model computes "
            "garbage, and no JSON reader but Python's accepts the file",
            fix="convert again: the conversion now refuses non-finite parameters and outputs, naming the cause",
            path=folder,
        )
    return Golden(inputs, outputs, raw.get("savedmodel"))
