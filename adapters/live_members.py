"""A room's member list as a store keeps it between reads, with the earliest expiry in it:
until that moment passes, the list is still every live member, and a read of a big room
needs no pass over its members (the stores' `room()` on a send's hot path)."""

from __future__ import annotations

from collections.abc import Iterable

from attrs import frozen

from roomcast.domain.model import Membership

NEVER = 2**63


@frozen
class LiveMembers:
    members: tuple[Membership, ...]
    first_expiry: int  # the earliest `expires_at` among them (NEVER for none)

    @classmethod
    def of(cls, members: Iterable[Membership], cutoff: int) -> LiveMembers:
        """Those of `members` live at `cutoff` (model.expiry_cutoff), in their order."""
        live = tuple(m for m in members if m.expires_at > cutoff)
        return cls(live, min((m.expires_at for m in live), default=NEVER))

    def at(self, cutoff: int) -> LiveMembers:
        """Itself while none of them has expired by `cutoff`; else those still live."""
        return self if cutoff < self.first_expiry else LiveMembers.of(self.members, cutoff)
