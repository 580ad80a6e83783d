"""Fuzzers: scripts run by hand (python -m tests.fuzz.replay); a small run is in the suite."""
