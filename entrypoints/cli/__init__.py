"""The `roomcast` command line: serve, token, stats and the operator commands."""
