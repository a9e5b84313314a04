"""Run every parity case in real TF.js (Node, cpu and wasm), not only in TensorFlow.

Converting one graph model per case would cost minutes, so the cases are batched: each group of
cases (CHUNK_CASES of them, in rule-module order) becomes ONE tf.Module whose serving
signature concatenates every case's inputs (`c017_a0`, each batched arg with a dynamic dim 0) and
returns every case's outputs (`c017_o0`). Each is saved and converted with the project's own
converter (tfjs_convert.convert: our grappler and fusion setup, model.json keyed by our names), and
all of them run in ONE Node process per backend (verify.tfjs_batch), twice: once with every case at
its own batch, once at its second batch size (bench.parity.batch_sizes).

A failure still names its case: a chunk the converter refuses, or that TF.js cannot load or run, is
converted again case by case and those models run in one more Node process, so each case gets its
own error. Cases known to fail on some backend (`alone`) get a model of their own from the start,
so the chunks stay whole and the fallback, which costs a conversion per case, stays rare.

TF.js computes in float32, int32 and bool only. The lowering already takes and returns those at the
boundary (LoweringContext maps every JAX dtype: a uint8 input is an int32 placeholder, its rules keep
the wraparound), so inputs cross as float32/int32/bool and outputs come back in `exported_dtype`, as
test_lowering_parity requires of TensorFlow. No cast is added here: it could only hide a rule that
returns another dtype.

Measured on this 2-core machine (2026-11-30, 166 cases): 9 graph models convert in about 6 s, each
backend's Node process takes about 1.5 s for all of them at both batch sizes, and the largest part
of the test file's time (30 s alone, 85 s with the machine loaded 4x) is JAX computing the expected
outputs op by op (jax.jit is no faster: one compile per case and shape).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np
import tensorflow as tf

from bench.parity import all_cases, batch_sizes, trace_with_batch
from jax2tfjs.export import savedmodel, tfjs_convert
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr
from jax2tfjs.lowering.registry import Case
from jax2tfjs.verify.tfjs_batch import ExportRuns, run_exports

# Cases per graph model. Fewer, larger models keep conversion and the Node processes' load time
# small; a chunk that breaks costs one conversion per case, so chunks are not made much larger.
CHUNK_CASES = 40
SEED = 0


@dataclass
class TracedCase:
    """A parity case traced with a symbolic batch, with its place in a batched graph model."""

    key: str  # module/case, as in bench.parity.all_cases
    prefix: str  # c017: the case's inputs are c017_a0…, its outputs c017_o0…
    case: Case
    closed: Any  # the ClosedJaxpr
    batched: list[bool]
    specs: list[jax.ShapeDtypeStruct]

    @functools.cached_property
    def sizes(self) -> tuple[int, ...]:
        """batch_sizes(case), (0,) for an unbatched case. Asked only when the case runs: it lowers the
        case in TensorFlow, and a case whose lowering fails must fail its conversion, where the
        harness attributes it, not here."""
        return batch_sizes(self.case)

    def input_names(self) -> list[str]:
        return [f"{self.prefix}_a{i}" for i in range(len(self.specs))]

    def output_names(self) -> list[str]:
        return [f"{self.prefix}_o{i}" for i in range(len(self.closed.out_avals))]

    def batch(self, run: int) -> int:
        return self.sizes[min(run, len(self.sizes) - 1)]

    def inputs(self, batch: int) -> list[np.ndarray]:
        """Random inputs as bench.parity.run_case draws them (same seed, same order), the batched args
        with `batch` rows (0: the case's own shapes)."""
        rng = np.random.default_rng(SEED)
        return [
            dataclasses.replace(arg, shape=(batch, *arg.shape[1:])).sample(rng)
            if flag and batch
            else arg.sample(rng)
            for arg, flag in zip(self.case.args, self.batched, strict=True)
        ]


def trace_case(key: str, index: int, case: Case) -> TracedCase:
    samples = [arg.sample(np.random.default_rng(SEED)) for arg in case.args]
    specs = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in samples]
    batched = [case.batched and arg.batched for arg in case.args]
    closed = trace_with_batch(case.fn, specs, batched)
    return TracedCase(key, f"c{index:03d}", case, closed, batched, specs)


class CasesModule(tf.Module):
    """Several cases in one serving function: every case's inputs by name in, every case's outputs
    by name out. Each case is lowered with its own LoweringContext, as if it were its own model, so
    its symbolic batch binds to its own inputs."""

    def __init__(self, cases: list[TracedCase], fold_constants: bool = False):
        super().__init__(name="parity_cases")
        self.cases = cases
        self.signature = [
            tf.TensorSpec(
                [None, *spec.shape[1:]] if flag else list(spec.shape),
                LoweringContext().tf_dtype(spec.dtype),
                name=name,
            )
            for traced in cases
            for spec, flag, name in zip(traced.specs, traced.batched, traced.input_names(), strict=True)
        ]

        def serve(*tensors):
            outputs = {}
            remaining = iter(tensors)
            for traced in cases:
                args = [next(remaining) for _ in traced.specs]
                # Folding off by default, as bench.parity: a case tests its rule, not JAX's evaluation.
                ctx = LoweringContext(fold_constants=fold_constants)
                lowered = lower_closed_jaxpr(ctx, traced.closed, args)
                outputs.update(zip(traced.output_names(), lowered, strict=True))
            return outputs

        self.serve = tf.function(serve, input_signature=self.signature, autograph=False)
        self.concrete = self.serve.get_concrete_function()


def convert_cases(cases: list[TracedCase], folder: Path, fold_constants: bool = False) -> Path:
    """One TF.js graph model (folder/tfjs) holding `cases`, through the project's converter."""
    module = CasesModule(cases, fold_constants)
    tfjs_convert.check_ops([op.type for op in module.concrete.graph.get_operations()], {})
    saved, export = folder / "saved_model", folder / "tfjs"
    savedmodel.save(module, saved)
    signature = {
        "inputs": [{"name": name} for traced in cases for name in traced.input_names()],
        "outputs": [{"name": name} for traced in cases for name in traced.output_names()],
    }
    tfjs_convert.convert(saved, export, "none", {"signature": signature})
    return export


def describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:600]


@dataclass
class CaseOutcome:
    """One case on one backend: per run, (batch, JAX's outputs, TF.js's outputs), or the error that
    stopped it (its conversion, or TF.js loading or running its model)."""

    key: str
    backend: str
    runs: list[tuple[int, list[np.ndarray], list[np.ndarray]]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Model:
    cases: list[TracedCase]
    folder: Path | None = None  # the graph model; None when conversion failed
    error: str | None = None


class TfjsParity:
    """The parity cases in TF.js, converted once (lazily) and run once per backend, cached."""

    def __init__(
        self,
        work_dir: Path,
        cases: dict[str, Case] | None = None,
        alone: Iterable[str] = (),
        fold_constants: bool = False,
    ):
        """`cases`: key → case (default: every rule's, bench.parity.all_cases); `alone`: keys that get
        a graph model of their own (cases known to fail on some backend); `fold_constants`: lower as
        exports do, folding constant equations (off: each case tests its rules)."""
        self.work_dir = Path(work_dir)
        self.fold_constants = fold_constants
        self.alone = set(alone)
        chosen = cases if cases is not None else {key: case for key, (_, case) in all_cases().items()}
        self.cases: dict[str, TracedCase] = {}
        self.trace_errors: dict[str, str] = {}
        for index, (key, case) in enumerate(chosen.items()):
            try:
                self.cases[key] = trace_case(key, index, case)
            except Exception as err:  # reported as that case's failure, not the run's
                self.trace_errors[key] = f"tracing failed: {describe(err)}"
        self._models: list[Model] | None = None
        self._singles: dict[str, Model] = {}
        self._expected: dict[tuple[str, int], list[np.ndarray]] = {}
        self._outcomes: dict[str, dict[str, CaseOutcome]] = {}

    def groups(self) -> list[list[TracedCase]]:
        """Cases in rule-module order, packed into chunks of at most CHUNK_CASES (a chunk may span
        small modules: 30 rule modules would otherwise make 30 mostly small models); each `alone`
        case on its own."""
        packed = [traced for traced in self.cases.values() if traced.key not in self.alone]
        packed.sort(key=lambda traced: traced.key.split("/")[0])  # stable: a module's cases stay in order
        singles = [[traced] for traced in self.cases.values() if traced.key in self.alone]
        chunks = [packed[start : start + CHUNK_CASES] for start in range(0, len(packed), CHUNK_CASES)]
        return chunks + singles

    def _convert(self, cases: list[TracedCase], name: str) -> Model:
        folder = self.work_dir / name
        try:
            return Model(cases, convert_cases(cases, folder, self.fold_constants))
        except Exception as err:  # attributed to the cases by converting them one by one
            return Model(cases, error=f"conversion failed: {describe(err)}")

    def models(self) -> list[Model]:
        if self._models is None:
            self._models = [
                self._convert(cases, f"{cases[0].prefix}-{len(cases)}") for cases in self.groups()
            ]
        return self._models

    def single(self, traced: TracedCase) -> Model:
        """`traced` converted alone (the fallback that names the case that broke its chunk)."""
        if traced.key not in self._singles:
            self._singles[traced.key] = self._convert([traced], f"{traced.prefix}-alone")
        return self._singles[traced.key]

    def expected(self, traced: TracedCase, run: int) -> list[np.ndarray]:
        batch = traced.batch(run)
        if (traced.key, batch) not in self._expected:
            outputs = jax.tree.leaves(traced.case.fn(*traced.inputs(batch)))
            self._expected[traced.key, batch] = [np.asarray(x) for x in outputs]
        return self._expected[traced.key, batch]

    def _runs(self, model: Model) -> ExportRuns:
        assert model.folder is not None
        inputs = {}
        for run in (0, 1):
            inputs[f"run{run}"] = {
                name: value
                for traced in model.cases
                for name, value in zip(traced.input_names(), traced.inputs(traced.batch(run)), strict=True)
            }
        return ExportRuns(model.folder, inputs)

    def _run_models(self, models: list[Model], backend: str) -> list[tuple[Model, str | None, Any]]:
        """(model, error, TF.js outputs by run) for each model, the convertible ones in one Node process."""
        converted = [m for m in models if m.folder is not None]
        results = (
            run_exports([self._runs(m) for m in converted], backend, timing_batches=()) if converted else []
        )
        found = {id(m): outcome for m, outcome in zip(converted, results, strict=True)}
        answers = []
        for model in models:
            outcome = found.get(id(model))
            if outcome is None:
                answers.append((model, model.error, None))
            elif outcome.error is not None:
                answers.append((model, f"TF.js ({backend}) failed: {outcome.error}", None))
            else:
                answers.append((model, None, outcome.outputs))
        return answers

    def _case_outcomes(self, model: Model, backend: str, outputs: dict[str, Any]) -> list[CaseOutcome]:
        outcomes = []
        for traced in model.cases:
            outcome = CaseOutcome(traced.key, backend)
            for run in range(len(traced.sizes)):
                got = outputs[f"run{run}"]
                outcome.runs.append(
                    (
                        traced.batch(run),
                        self.expected(traced, run),
                        [got[name] for name in traced.output_names()],
                    )
                )
            outcomes.append(outcome)
        return outcomes

    def outcomes(self, backend: str) -> dict[str, CaseOutcome]:
        """key → the case's outcome on `backend` (computed once per backend)."""
        if backend in self._outcomes:
            return self._outcomes[backend]
        found = {key: CaseOutcome(key, backend, error=error) for key, error in self.trace_errors.items()}
        broken: list[TracedCase] = []
        for model, error, outputs in self._run_models(self.models(), backend):
            if error is None:
                found.update((o.key, o) for o in self._case_outcomes(model, backend, outputs))
            elif len(model.cases) == 1:
                found[model.cases[0].key] = CaseOutcome(model.cases[0].key, backend, error=error)
            else:
                broken.extend(model.cases)
        if broken:  # a chunk failed as a whole: each of its cases again, in a model of its own
            singles = [self.single(traced) for traced in broken]
            for model, error, outputs in self._run_models(singles, backend):
                if error is None:
                    found.update((o.key, o) for o in self._case_outcomes(model, backend, outputs))
                else:
                    found[model.cases[0].key] = CaseOutcome(model.cases[0].key, backend, error=error)
        self._outcomes[backend] = found
        return found
