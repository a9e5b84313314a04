"""jax2tfjs.verify: check exports from their folders alone, in real TF.js (a leaf: nothing imports it).

runner (rows per export), thresholds (per quantization), tfjs_batch (many exports per Node process),
report (report.md and the size-vs-accuracy chart).
"""
