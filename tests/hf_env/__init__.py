"""Hugging Face Flax models through the converter; run in .venv/hf (tests/envs/transformers.in)."""
