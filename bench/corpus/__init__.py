"""bench.corpus"""
