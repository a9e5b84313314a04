"""jax2tfjs.prepare"""
