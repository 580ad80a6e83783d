"""Benchmarks: each scenario drives the real pipeline against the local fake OpenAI server.

Run them all with ``python -m bench.run`` (see ``bench/README.md``).
"""
