"""Diagnosis and auto-fix: the error taxonomy, parameter checks and fixes, `doctor` for checkpoints
and exports, and the error corpus that measures them.

- `autofix` checks params against the model before tracing (keys → shapes → dtypes) and fixes what
  has exactly one fix (`keys`, `shapes`, `dtypes` hold each step; `input_spec` names a better input);
- `doctor` checks a checkpoint or an export folder and lists findings;
- `taxonomy` and `troubleshooting` turn the error classes of `jax2tfjs.errors` into
  docs/troubleshooting.md;
- `corpus` holds broken conversions with their expected codes, `bench` runs them and scores the KPIs.
"""
