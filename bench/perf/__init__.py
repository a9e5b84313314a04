"""Benchmarks (`make bench`): measured side by side in one run, reported as medians and ratios."""

from pathlib import Path

# The checkout (bench/perf/ → two levels up): where the venvs and bench/node live, so the
# benchmark finds them whatever the working directory.
REPO_ROOT = Path(__file__).resolve().parents[2]
VENV = REPO_ROOT / ".venv"
BENCH_NODE = REPO_ROOT / "bench" / "node"
