"""One line naming the extra to install when an optional dependency is missing."""

from __future__ import annotations

# Top-level module -> the `roomcast[...]` extra that installs it (pyproject.toml).
EXTRA_OF_MODULE = {"aiohttp": "serve", "yaml": "serve", "websockets": "client"}


def missing_dependency(command: str, error: ModuleNotFoundError) -> str:
    """`roomcast serve: needs aiohttp: pip install 'roomcast[serve]'`, or the error itself."""
    module = (error.name or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    if extra is None:
        return f"roomcast {command}: {error}"
    return f"roomcast {command}: needs {module}, not installed: pip install 'roomcast[{extra}]'"
