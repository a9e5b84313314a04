"""Typed errors: every failure a user can hit carries a code, the cause and the fix.

Jobs catch `Jax2TfjsError` at the top and print `str(err)` instead of a traceback, then exit with
`EXIT_USER_ERROR`. The memory guard exits with `EXIT_MEMORY_LIMIT` so scripts can tell the two apart.
"""

from __future__ import annotations

from pathlib import Path

EXIT_USER_ERROR = 2
# Distinct from 1 (a crash), 2 (bad input) and 137 (the kernel's OOM killer): the guard stopped us.
EXIT_MEMORY_LIMIT = 86
# 128 + SIGPIPE, what a shell reports for a writer whose reader closed the pipe.
EXIT_BROKEN_PIPE = 141


class Jax2TfjsError(Exception):
    """Base error. `code` is stable (the table in docs/api.md); `fix` says what to do."""

    code = "J2T000"

    def __init__(self, cause: str, *, fix: str, path: str | Path | None = None):
        self.cause = cause
        self.fix = fix
        self.path = str(path) if path is not None else None
        super().__init__(self._render())

    def _render(self) -> str:
        where = f" [{self.path}]" if self.path else ""
        return f"{self.code}{where}: {self.cause}\n  fix: {self.fix}"


class DataSourceError(Jax2TfjsError):
    """A data source could not deliver (offline, npm missing, download failed)."""

    code = "J2T101"


class DataIntegrityError(Jax2TfjsError):
    """Data on disk or in a download is corrupt or partial (sha256 or counts do not match)."""

    code = "J2T102"


class MemoryLimitExceeded(Jax2TfjsError):
    """The process tree's RSS went past the job's limit."""

    code = "J2T901"


class UnknownModelError(Jax2TfjsError):
    """A model name that is not in the registry."""

    code = "J2T201"


class CheckpointError(Jax2TfjsError):
    """A checkpoint folder is missing, empty, partial or corrupt."""

    code = "J2T202"


class TrainingStateError(Jax2TfjsError):
    """Existing checkpoints conflict with the requested run (resume or start fresh)."""

    code = "J2T203"


class UnsupportedPrimitiveError(Jax2TfjsError):
    """A JAX primitive without a TF.js lowering."""

    code = "J2T301"


class UnsupportedDtypeError(Jax2TfjsError):
    """A dtype with no TF.js equivalent (complex, strings, ...)."""

    code = "J2T302"


class MissingTfjsOpError(Jax2TfjsError):
    """The lowered graph uses a TensorFlow op that TF.js does not implement."""

    code = "J2T303"


class LoweringError(Jax2TfjsError):
    """A rule met parameters outside its limits."""

    code = "J2T304"


class ModelInputError(Jax2TfjsError):
    """What was passed to `to_tensorflowjs` cannot be used as a model (form, params, input spec)."""

    code = "J2T305"


class ExportError(Jax2TfjsError):
    """Saving the SavedModel or running the tensorflowjs converter failed."""

    code = "J2T306"
