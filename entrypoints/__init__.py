"""Entrypoints: Lambda handlers, the cleanup job, the local gateway, the CLI and the container."""
