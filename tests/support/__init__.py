"""Test support: servers and harnesses shared by the test layers."""
