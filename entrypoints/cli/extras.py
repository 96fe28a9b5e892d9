"""One line naming the extra to install when an optional dependency is missing."""

from __future__ import annotations

# Top-level module -> (the distribution that provides it, the `roomcast[...]` extra with it).
PROVIDERS = {
    "aiohttp": ("aiohttp", "serve"),
    "yaml": ("PyYAML", "serve"),
    "websockets": ("websockets", "client"),
}


def missing_dependency(command: str, error: ModuleNotFoundError) -> str:
    """`roomcast serve: PyYAML is not installed: pip install 'roomcast[serve]'`, or the error."""
    provider = PROVIDERS.get((error.name or "").partition(".")[0])
    if provider is None:
        return f"roomcast {command}: {error}"
    distribution, extra = provider
    return f"roomcast {command}: {distribution} is not installed: pip install 'roomcast[{extra}]'"
