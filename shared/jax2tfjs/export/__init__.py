"""jax2tfjs.export"""
