"""golden.json: a few inputs and JAX's outputs for them, written at conversion beside model.json.

Every check of an export starts here: verify and doctor run TF.js on the inputs and compare with
the outputs, the web page self-checks with them, and the error corpus reads how the SavedModel
matched them at conversion (`savedmodel`, the converter's own check under jax2tfjs.compare).
This module is the only one that knows the file's layout.

Format 2 (`"format": 2`): `inputs` and `outputs` are lists of {name, dtype, shape, values}, values
flat in C order, bools as true/false. Format 1 (one input, one output: `input_shape`, nested
`inputs` and `outputs`) is still read, as `input` and `output`.
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
from jax2tfjs.signature import LEGACY_INPUT, LEGACY_OUTPUT

GOLDEN_FILE = "golden.json"
_NOTE = "JAX's outputs for these inputs; runners and the web page self-check against them"
_FIX = "re-run the conversion (`make convert`, or `to_tensorflowjs`), which writes it"


FORMAT = 2
# The dtypes an export takes and returns (TF.js has no others): how golden.json's values read back.
DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


@dataclass(frozen=True)
class Golden:
    """Inputs by name, as the export takes them (float32, int32 or bool), and JAX's outputs by name
    (floats as float64, so comparisons add no rounding of their own; ints and bools as they are).
    Both in the model's own order. Files of format 1 (one input, one output) read as `input` and
    `output`."""

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    savedmodel: dict[str, Any] | None = None  # Comparison.to_dict() of the conversion's check

    @property
    def savedmodel_rel_err(self) -> float | None:
        return None if self.savedmodel is None else self.savedmodel.get("rel_err")

    @property
    def rows(self) -> int:
        """How many examples the file holds: the first batched input's leading dim (1 for scalars)."""
        return next((len(x) for x in self.inputs.values() if np.ndim(x)), 1)

    def describe(self) -> str:
        return ", ".join(
            f"{name} {list(np.shape(x))} {np.asarray(x).dtype.name}" for name, x in self.inputs.items()
        )


def _entry(name: str, values: np.ndarray) -> dict[str, Any]:
    values = np.asarray(values)
    dtype = "bool" if values.dtype == np.bool_ else "int32" if values.dtype.kind in "iu" else "float32"
    return {"name": name, "dtype": dtype, "shape": list(values.shape), "values": values.ravel().tolist()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _json_safe(v) for key, v in value.items()}
    return None if isinstance(value, float) and not np.isfinite(value) else value


def write(
    folder: Path,
    inputs: dict[str, np.ndarray],
    outputs: dict[str, np.ndarray],
    savedmodel: Comparison | None = None,
) -> None:
    """golden.json (format 2): each input and output by name with its dtype, shape and flat values."""
    payload: dict[str, Any] = {
        "format": FORMAT,
        "inputs": [_entry(name, x) for name, x in inputs.items()],
        "outputs": [_entry(name, y) for name, y in outputs.items()],
        "note": _NOTE,
    }
    if savedmodel is not None:
        # JSON has no inf/NaN (Python writes `Infinity`, which the web page's JSON.parse rejects): a
        # non-finite figure of a failed check is written as null.
        payload["savedmodel"] = _json_safe(savedmodel.to_dict())
    atomic.write_json(Path(folder) / GOLDEN_FILE, payload)


def _array(entry: dict[str, Any], output: bool) -> tuple[str, np.ndarray]:
    dtype = DTYPES[entry["dtype"]]
    if output and dtype is np.float32:
        dtype = np.float64
    return str(entry["name"]), np.asarray(entry["values"], dtype).reshape(entry["shape"])


def _parse(raw: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    if raw.get("format") == FORMAT:
        inputs = dict(_array(entry, output=False) for entry in raw["inputs"])
        outputs = dict(_array(entry, output=True) for entry in raw["outputs"])
        return inputs, outputs
    # Format 1: one input and one output, nested lists.
    inputs = {LEGACY_INPUT: np.asarray(raw["inputs"], np.float32).reshape(raw["input_shape"])}
    return inputs, {LEGACY_OUTPUT: np.asarray(raw["outputs"], np.float64)}


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
        inputs, outputs = _parse(raw)
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as err:
        # ValueError covers bad JSON, ragged lists and a value count that does not fit the shape.
        raise ExportError(
            f"golden.json is malformed: {type(err).__name__}: {err}", fix=_FIX, path=folder
        ) from err
    bad = sum(int(y.size - np.count_nonzero(np.isfinite(y))) for y in outputs.values() if y.dtype.kind == "f")
    if bad:
        total = sum(y.size for y in outputs.values())
        raise NonFiniteError(
            f"golden.json's outputs hold NaN or inf ({bad:,} of {total:,} values): the model computes "
            "garbage, and no JSON reader but Python's accepts the file",
            fix="convert again: the conversion now refuses non-finite parameters and outputs, naming the cause",
            path=folder,
        )
    return Golden(inputs, outputs, raw.get("savedmodel"))
