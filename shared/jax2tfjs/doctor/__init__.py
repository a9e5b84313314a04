"""jax2tfjs.doctor"""
