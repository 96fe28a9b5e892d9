"""Adapters: concrete implementations of the ports (in-memory, fakes, AWS)."""
