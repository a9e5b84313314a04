"""Keep optional libraries our jobs never use out of their processes: about 100 MB and 1 s each.

`import tensorflow` eagerly imports Keras 3, which imports matplotlib whenever it is installed (for
its plotting helpers); tensorflowjs imports tensorflow_decision_forests, which imports pandas, which
imports pyarrow whenever it is installed. The convert venv has matplotlib (our reports) and pyarrow
(tensorflow-datasets), so every convert-side process paid for both. Measured with TF 2.19, Keras 3.15,
pandas 3.1: `import tensorflow` peaks at 823 MB with matplotlib and pyarrow reachable, 719 MB without.

The finder refuses only those imports made by those importers (Keras's and pandas's own code, where
each is guarded by try/except ImportError); our code and anyone else's import them normally. It is
opt-in — jobs set JAX2TFJS_LEAN_IMPORTS=1 (the Makefile, compose.yaml and the benchmark do) — so
importing jax2tfjs as a library never changes another library behind a user's back.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

ENV = "JAX2TFJS_LEAN_IMPORTS"
_SEP = os.sep
# module → the source folders whose imports of it are refused.
BLOCKED = {
    # Keras 3 (imported by TensorFlow) and tf-keras (by tensorflowjs): plotting helpers only.
    "matplotlib": (f"{_SEP}keras{_SEP}src{_SEP}", f"{_SEP}tf_keras{_SEP}src{_SEP}"),
    # pandas probes for pyarrow at import (pandas/compat/pyarrow.py); without it pandas uses numpy.
    "pyarrow": (f"{_SEP}pandas{_SEP}compat{_SEP}",),
}


class _SkipOptional(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        importers = BLOCKED.get(name)
        if importers and any(folder in _importer() for folder in importers):
            raise ImportError(f"{name} is not imported for this library in jax2tfjs jobs ({ENV}=1)")
        return None


def _importer() -> str:
    """The file of the first frame outside importlib: the code that ran the import statement."""
    frame = sys._getframe(1)
    while frame is not None and (
        frame.f_code.co_filename == __file__ or frame.f_code.co_filename.startswith("<frozen importlib")
    ):
        frame = frame.f_back
    return frame.f_code.co_filename if frame is not None else ""


def install() -> None:
    if not any(isinstance(finder, _SkipOptional) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SkipOptional())


def install_if_requested() -> None:
    if os.environ.get(ENV, "") == "1":
        install()
