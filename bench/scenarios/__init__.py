"""The benchmark scenarios, one module each, plus what they share (``common``)."""
