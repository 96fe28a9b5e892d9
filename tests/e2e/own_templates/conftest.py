"""Templates of functions of their own (tests/fixtures/templates/): their frames are their
own protocol, not roomcast's, so docs/asyncapi.yaml does not judge them."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def frames_follow_the_asyncapi_document() -> None:
    """Overrides tests/e2e's check of every frame against roomcast's protocol."""
