from __future__ import annotations

import pytest

from roomcast.adapters.fake_notifier import FakeNotifier
from roomcast.domain.service import ChatService
from tests.unit.chat import Chat


@pytest.fixture
def chat(service: ChatService, fake_notifier: FakeNotifier) -> Chat:
    return Chat(service, fake_notifier)
