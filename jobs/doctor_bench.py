"""Error-corpus job: `make doctor-bench` converts every broken case with autofix off and on, prints
per-case and per-class results and the KPIs, and exits 4 when a case or a KPI misses its target.
"""

from __future__ import annotations

import fire

from jax2tfjs.diagnose.cli import doctor_bench

if __name__ == "__main__":
    fire.Fire(doctor_bench)
