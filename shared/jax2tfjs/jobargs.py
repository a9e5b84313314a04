"""Rules for a job's arguments, checked before the job does any work or touches any file.

fire passes through what it cannot parse as a Python literal (`--epochs=abc` arrives as 'abc',
`--lr=nan` as 'nan') and turns a comma value into a tuple (`--quantization=none,uint8`), so every
number and name is checked here, once, with a JobArgumentError (J2T401) that names the make
variable and the flag, the value, the rule and an example that works.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jax2tfjs.errors import JobArgumentError

ALL = "all"


@dataclass(frozen=True)
class Arg:
    """One argument as users meet it: `EPOCHS` in make, `--epochs` on the job, `make train EPOCHS=5`."""

    variable: str | None  # the make variable; None for flags make does not set
    flag: str
    target: str  # the make target (or job) the example runs
    example: str  # a value that works

    def refuse(self, value: Any, rule: str) -> JobArgumentError:
        shown = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        if self.variable is None:
            return JobArgumentError(
                f"{self.flag}={shown} is not {rule}", fix=f"pass {rule}, e.g. `{self.flag}={self.example}`"
            )
        return JobArgumentError(
            f"{self.variable}={shown} ({self.flag}) is not {rule}",
            fix=f"set {self.variable} to {rule}, e.g. `make {self.target} {self.variable}={self.example}` "
            f"(on the job itself: {self.flag}={self.example})",
        )


def _as_int(value: Any) -> int | None:
    """The whole number `value` spells, or None. Booleans are not numbers here (`--epochs` alone
    arrives as True)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        text = value.strip()
        sign = text[1:] if text[:1] in "+-" else text
        return int(text) if sign.isdecimal() and sign.isascii() else None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


# JAX's PRNG keys and numpy's generators take seeds below 2**32 everywhere; larger ones overflow.
MAX_SEED = 2**32 - 1


def whole_number(value: Any, arg: Arg, minimum: int = 1, maximum: int | None = None) -> int:
    """A whole number ≥ minimum (EPOCHS, BATCH_SIZE, TRAIN_SAMPLES, SAMPLES: ≥ 1; SEED, STEP: ≥ 0),
    and ≤ maximum when given (SEED: MAX_SEED)."""
    number = _as_int(value)
    if number is None or number < minimum or (maximum is not None and number > maximum):
        bound = f"a whole number ≥ {minimum}" + (f" and ≤ {maximum}" if maximum is not None else "")
        raise arg.refuse(value, bound)
    return number


def optional_whole_number(value: Any, arg: Arg, minimum: int = 1) -> int | None:
    """None (the argument was not given) or a whole number ≥ minimum."""
    return None if value is None else whole_number(value, arg, minimum)


def positive_number(value: Any, arg: Arg) -> float:
    """A finite number > 0 (LR, MEMORY_LIMIT_GB): nan, inf, 0 and words are refused."""
    number = _as_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise arg.refuse(value, "a finite number > 0")
    return number


def non_negative_number(value: Any, arg: Arg) -> float:
    """A finite number ≥ 0 (verify's thresholds)."""
    number = _as_float(value)
    if number is None or not math.isfinite(number) or number < 0:
        raise arg.refuse(value, "a finite number ≥ 0")
    return number


def names(value: Any, allowed: Iterable[str], arg: Arg, aliases: dict[str, str] | None = None) -> list[str]:
    """A comma list of names (`flax,mlp`, or fire's tuple for it) or `all`, as full names in order,
    each once. Aliases (`flax` → `flax_cnn`) are resolved."""
    allowed = list(allowed)
    aliases = aliases or {}
    items = list(value) if isinstance(value, list | tuple) else str(value).split(",")
    words = [str(item).strip() for item in items]
    if words == [ALL]:
        return allowed
    known = [*allowed, *(f"{alias} (= {full})" for alias, full in aliases.items())]
    rule = f"a comma list of {', '.join(known)}, or {ALL}"
    chosen: list[str] = []
    for word in words:
        full = aliases.get(word, word)
        if full not in allowed:
            raise arg.refuse(value, rule)
        if full not in chosen:
            chosen.append(full)
    if not chosen:
        raise arg.refuse(value, rule)
    return chosen


def one_of(value: Any, allowed: Iterable[str], arg: Arg) -> str:
    """Exactly one of `allowed` (SOURCE=auto|tfds|npm)."""
    allowed = list(allowed)
    if not isinstance(value, str) or value.strip() not in allowed:
        raise arg.refuse(value, f"one of {', '.join(allowed)}")
    return value.strip()


MEMORY_LIMIT = Arg("MEMORY_LIMIT_GB", "--memory-limit-gb", "train", "8")
MEMORY_LIMIT_ENV = "MEMORY_LIMIT_GB"
DEFAULT_MEMORY_LIMIT_GB = 8.0


def memory_limit_gb(explicit: Any = None) -> float:
    """The memory guard's limit in GB: the flag, else $MEMORY_LIMIT_GB, else 8; finite and > 0."""
    if explicit is not None:
        return positive_number(explicit, MEMORY_LIMIT)
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    return positive_number(raw, MEMORY_LIMIT) if raw else DEFAULT_MEMORY_LIMIT_GB
