"""An export's signature as plain data: its named inputs and outputs, their shapes, dims and dtypes.

Written at conversion into model.json's metadata (`jax2tfjs.signature`) and report.json; read by
verify, doctor, the web index and the page, none of which needs JAX. TF.js orders a graph model's
inputs and outputs alphabetically, so they are fed and fetched by name; the order here is the
model's own (JAX's flatten order of the input and output pytrees), the one users document.

A dim is an int (static) or a symbol name (dynamic: "b" for the batch, or a name from
`dynamic_axes`); `shape` writes dynamic dims as None, as TF.js reports them. `dtype` is what the
export takes or returns (float32, int32 or bool: all TF.js has); `jax_dtype` is the model's own when
it differs, a cast at the boundary that the report names.

Exports converted before signatures existed record one `input` ({name, shape, dtype}) and no
outputs: `from_metadata` reads them as one input and one output named `output`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LEGACY_INPUT, LEGACY_OUTPUT = "input", "output"


@dataclass(frozen=True)
class Tensor:
    name: str
    dims: tuple[int | str, ...]
    dtype: str
    jax_dtype: str | None = None  # the model's dtype, when the export casts at the boundary

    @property
    def shape(self) -> list[int | None]:
        return [d if isinstance(d, int) else None for d in self.dims]

    @property
    def dynamic(self) -> dict[int, str]:
        """axis → symbol of each dynamic dim."""
        return {axis: d for axis, d in enumerate(self.dims) if isinstance(d, str)}

    def cast_note(self, side: str) -> str | None:
        if self.jax_dtype is None or self.jax_dtype == self.dtype:
            return None
        if side == "input":
            return f"input {self.name}: the export takes {self.dtype} and casts it to the model's {self.jax_dtype}"
        return f"output {self.name}: the model's {self.jax_dtype} is returned as {self.dtype}"

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "shape": self.shape, "dims": list(self.dims)}
        found["dtype"] = self.dtype
        if self.jax_dtype and self.jax_dtype != self.dtype:
            found["jax_dtype"] = self.jax_dtype
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Tensor:
        dims = raw.get("dims")
        if dims is None:  # legacy: a shape with None for the dynamic batch
            dims = ["b" if d is None else int(d) for d in raw.get("shape") or []]
        return cls(
            name=str(raw.get("name") or LEGACY_INPUT),
            dims=tuple(d if isinstance(d, str) else int(d) for d in dims),
            dtype=str(raw.get("dtype") or "float32"),
            jax_dtype=raw.get("jax_dtype"),
        )


@dataclass(frozen=True)
class Signature:
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...] = field(default_factory=tuple)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def input(self, name: str) -> Tensor:
        return next(t for t in self.inputs if t.name == name)

    @property
    def only_input(self) -> Tensor | None:
        """The input of a one-input export (an image classifier's); None with several."""
        return self.inputs[0] if len(self.inputs) == 1 else None

    def casts(self) -> list[str]:
        notes = [t.cast_note("input") for t in self.inputs] + [t.cast_note("output") for t in self.outputs]
        return [note for note in notes if note]

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": [t.to_dict() for t in self.inputs], "outputs": [t.to_dict() for t in self.outputs]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Signature:
        return cls(
            inputs=tuple(Tensor.from_dict(t) for t in raw.get("inputs") or []),
            outputs=tuple(Tensor.from_dict(t) for t in raw.get("outputs") or []),
        )


def from_metadata(meta: dict[str, Any]) -> Signature | None:
    """The signature model.json's jax2tfjs metadata (or report.json) records; None when neither a
    signature nor a legacy `input` is there."""
    if isinstance(meta.get("signature"), dict):
        return Signature.from_dict(meta["signature"])
    legacy = meta.get("input") or meta.get("input_spec")
    if isinstance(legacy, dict):
        return Signature(
            inputs=(Tensor.from_dict({"name": LEGACY_INPUT, **legacy}),),
            outputs=(Tensor(LEGACY_OUTPUT, (), "float32"),),
        )
    return None
