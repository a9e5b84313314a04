"""jax2tfjs.verify"""
