"""Doctor job: `make doctor DIR=<checkpoint or export folder>` prints what is healthy and what is not.

Exits 0 when healthy (warnings allowed), 2 when it found errors (each with its code and fix).
"""

from __future__ import annotations

import fire

from jax2tfjs.doctor.cli import doctor

if __name__ == "__main__":
    fire.Fire(doctor)
