"""docs/security.md's Cognito pre token generation trigger makes a rooms claim roomcast grants."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from roomcast.domain.access import may_join, may_send, parse_grant
from roomcast.domain.model import RoomId

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def trigger() -> Any:
    """The handler of the document's only Python block, defined as the document has it."""
    [source] = re.findall(r"```python\n(.*?)```", SECURITY.read_text(encoding="utf-8"), re.S)
    namespace: dict[str, Any] = {}
    exec(compile(source, str(SECURITY), "exec"), namespace)  # our own document
    return namespace["handler"]


def v2_event(*groups: str) -> dict[str, Any]:
    """A V2_0 TokenGeneration event, as Cognito documents it (the parts the trigger reads)."""
    return {
        "version": "2",
        "triggerSource": "TokenGeneration_Authentication",
        "userPoolId": "us-east-1_TEST",
        "userName": "alice",
        "request": {
            "userAttributes": {"sub": "9f1c0d2e-alice"},
            "groupConfiguration": {"groupsToOverride": list(groups), "iamRolesToOverride": [],
                                   "preferredRole": None},
            "scopes": ["openid"],
        },
        "response": {"claimsAndScopeOverrideDetails": None},
    }


def granted(event: dict[str, Any], token: str = "accessTokenGeneration") -> Any:
    answer = trigger()(copy.deepcopy(event), None)
    details = answer["response"]["claimsAndScopeOverrideDetails"]
    return parse_grant(details[token]["claimsToAddOrOverride"]["rooms"])


class TestTheCognitoTrigger:
    @pytest.mark.parametrize("token", ["accessTokenGeneration", "idTokenGeneration"])
    def test_every_user_may_read_the_news_and_no_more(self, token: str) -> None:
        grant = granted(v2_event(), token)
        assert may_join(grant, RoomId("news-today"))
        assert not may_send(grant, RoomId("news-today"))
        assert not may_join(grant, RoomId("team-a"))

    def test_a_group_adds_its_room(self) -> None:
        grant = granted(v2_event("team-a", "unknown-group"))
        assert may_send(grant, RoomId("team-a"))
        assert not may_join(grant, RoomId("team-b"))

    def test_staff_may_speak_everywhere_the_news_included(self) -> None:
        grant = granted(v2_event("staff"))
        assert may_send(grant, RoomId("news-today")) and may_send(grant, RoomId("anything"))

    def test_an_event_without_groups_still_gets_the_claim(self) -> None:
        event = v2_event()
        del event["request"]["groupConfiguration"]
        assert may_join(granted(event), RoomId("news-x"))
