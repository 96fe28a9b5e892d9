"""The chat service: every use case, driving only the ports."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING

from attrs import evolve

from roomcast.domain import commands, errors, frames
from roomcast.domain.access import RoomAccess, check_join, check_send
from roomcast.domain.commands import Command
from roomcast.domain.fanout import (
    MAX_SHARD_ATTEMPTS,
    TRANSIENT,
    Shard,
    plan,
    retry_delay_seconds,
)
from roomcast.domain.frames import Frame
from roomcast.domain.history import Replay
from roomcast.domain.identity import identify
from roomcast.domain.model import (
    ANONYMOUS,
    NO_CLAIM,
    NO_GRANT,
    Connection,
    ConnectionId,
    Departure,
    Message,
    Room,
    RoomId,
    UserId,
    Verified,
)
from roomcast.domain.policies import (
    Limits,
    check_room_capacity,
    decide_join,
    expires_at,
    find_member,
    listed_members,
    should_probe,
)
from roomcast.domain.results import (
    BroadcastResult,
    DeliveryReport,
    Reply,
    Stats,
    SweepReport,
)
from roomcast.domain.sharding import Sharding

if TYPE_CHECKING:  # the service is typed by the ports but never imports them at run time
    from roomcast.ports import Clock, ConnectionStore, Notifier, RoomLog, TokenVerifier

log = logging.getLogger(__name__)

JOIN_ATTEMPTS = 5
SEND_ATTEMPTS = 10
SWEEP_CHUNK = 100


class ChatService:
    def __init__(
        self,
        store: ConnectionStore,
        notifier: Notifier,
        clock: Clock,
        limits: Limits | None = None,
        verifier: TokenVerifier | None = None,
        *,
        log: RoomLog,
        access: RoomAccess = RoomAccess.OPEN,
        sharding: Sharding | None = None,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.limits = limits or Limits()
        self.verifier = verifier
        self.log = log
        self.access = access
        self.sharding = sharding

    # -- lifecycle -------------------------------------------------------------

    def connect(
        self,
        connection_id: ConnectionId,
        user_id: UserId = ANONYMOUS,
        source_ip: str | None = None,
        user_agent: str | None = None,
        token: str | None = None,
        authorized_user_id: UserId | None = None,
        authorized_rooms: object = NO_CLAIM,
    ) -> Connection:
        """Record a new connection. Never posts: the socket is not open until $connect returns.

        The connection's user and grant are the ones `identify` (domain/identity.py) reads
        from the claimed `user_id`, the `token`, or the `authorized_user_id` and
        `authorized_rooms` an authorizer vouched for. A `rooms` claim that is not a grant is
        Unauthorized whatever the room access; the grant is kept only when room access is
        `token`: it is all the connection may ever reach, read from the connection on a join
        and from the membership on a send.
        """
        authorized = (
            None if authorized_user_id is None else Verified(authorized_user_id, authorized_rooms)
        )
        identity = identify(self.verifier, user_id, token, authorized)
        now = self.clock.now_ms()
        connection = Connection(
            id=connection_id,
            user_id=identity.user_id,
            connected_at=now,
            expires_at=expires_at(now, self.limits),
            source_ip=source_ip,
            user_agent=user_agent,
            grant=identity.grant if self.access is RoomAccess.TOKEN else NO_GRANT,
        )
        self.store.add(connection)
        return connection

    def disconnect(self, connection_id: ConnectionId) -> None:
        removed = self.store.remove(connection_id)
        if removed is not None:
            self._announce_departures([removed])

    # -- inbound frames ----------------------------------------------------------

    def handle(self, connection_id: ConnectionId, body: str | bytes | None) -> Reply:
        """Parse and execute one client frame; errors go back to the sender as frames."""
        try:
            command = commands.parse(body, self.limits.max_message_bytes)
            return self.execute(connection_id, command)
        except errors.DomainError as refused:
            return self._refuse(connection_id, refused)
        except Exception:
            log.exception("unexpected failure handling a frame from %s", connection_id)
            return self._refuse(connection_id, errors.InternalError())

    def execute(self, connection_id: ConnectionId, command: Command) -> Reply:
        match command:
            case commands.JoinRoom(room_id, since, epoch):
                self.join(connection_id, room_id, since, epoch)
                return Reply(200, "Joined room")
            case commands.LeaveRoom(room_id):
                self.leave(connection_id, room_id)
                return Reply(200, "Left room")
            case commands.SendMessage(room_id, text):
                self.send(connection_id, room_id, text)
                return Reply(200, "Message sent")
            case commands.Ping():
                self.ping(connection_id)
                return Reply(200, "Pong")
        raise AssertionError(f"unhandled command {command!r}")

    # -- use cases ---------------------------------------------------------------

    def join(
        self,
        connection_id: ConnectionId,
        room_id: RoomId,
        since: int | None = None,
        epoch: str | None = None,
    ) -> None:
        """Announces the join, and the leaving of each room it evicted the connection from,
        to the rooms that have not heard them (Connection's `unannounced`). The member read
        comes first, so that nothing is announced before the step most likely to fail has
        worked.

        With `since`, the joiner then gets every retained message after it, up to the seq
        its joinedRoom names; a member rejoining with `since` fills a gap that way. A `since`
        counted by another epoch of the log (one that restarted) is taken as 0.

        With room access `token`, a room the connection's grant does not give `join` is
        NotAllowed before anything is written or announced."""
        connection = self._join_atomically(connection_id, room_id)
        room = self.store.room(room_id)
        self._finish_departures(room, but=connection_id)
        members = room.members
        replay = None if since is None else self._replay(room_id, since, epoch, room.seq)
        now = self.clock.now_ms()
        departures = sorted(connection.unannounced_departures)
        for left in departures:
            self._announce(left, frames.user_left(left, connection.user_id, now))
            self._deliver(connection_id, frames.left_room(left))
        joining = connection.is_unannounced_in(room_id)
        if joining:
            others = [m.connection_id for m in members if m.connection_id != connection_id]
            self._broadcast(room_id, others, frames.user_joined(room_id, connection.user_id, now))
        if joining or departures:
            self._settle(connection_id, room_id, departures)
        listed = listed_members(members, connection_id, self.limits)
        joined = frames.joined_room(
            room_id, listed, len(members), connection.user_id, room.seq, self.log.epoch, replay
        )
        if self._deliver(connection_id, joined) and replay is not None:
            self._deliver_in_order(connection_id, replay.messages)

    def leave(self, connection_id: ConnectionId, room_id: RoomId) -> None:
        """The leave writes its departure with it and claims it once the leaver has heard
        `leftRoom`: a leave whose answer and read-back both failed is still announced, by
        the room's next reader."""
        room = self.store.room(room_id)
        leaver = find_member(room.members, connection_id)
        if not self._left(connection_id, room_id, leaver.user_id):
            raise errors.NotInRoom()
        self._deliver(connection_id, frames.left_room(room_id))
        remaining = tuple(m for m in room.members if m.connection_id != connection_id)
        departed = (*room.departures, Departure(connection_id, leaver.user_id))
        self._finish_departures(evolve(room, members=remaining, departures=departed))

    def send(self, connection_id: ConnectionId, room_id: RoomId, text: str) -> None:
        """The seq is allocated only against the member list it is delivered to: a member
        who joined meanwhile makes the log refuse, and the members are read again."""
        for _ in range(SEND_ATTEMPTS):
            room = self.store.room(room_id)
            sender = find_member(room.members, connection_id)
            check_send(self.access, sender)
            self._finish_departures(room)
            said = Message(room_id, text, sender.user_id, self.clock.now_ms())
            try:
                logged = self.log.append(said, after=room.seq, members_version=room.version)
            except errors.MembershipChanged:
                continue
            recipients = [m.connection_id for m in room.members]
            self._broadcast(room_id, recipients, frames.message(logged))
            return
        raise errors.ConcurrentUpdate(f"the members of {room_id} kept changing")

    def ping(self, connection_id: ConnectionId) -> None:
        self._deliver(connection_id, frames.pong(self.clock.now_ms()))

    def deliver(self, shard: Shard) -> DeliveryReport:
        """A worker's use case: post a queued shard's frame to its recipients.

        A shard already done (a redelivery) is skipped. Gone recipients are removed and
        announced as after any broadcast. Those whose post failed for a reason that may pass
        are queued again, alone and later; past MAX_SHARD_ATTEMPTS, or when the queue will
        not take them, ShardUndelivered leaves the shard to the queue's redelivery and its
        dead-letter queue (then recipients reached this time may get the frame twice; a
        `message` carries its seq, by which clients drop what they already have)."""
        sharding = self._sharding()
        if self._already_done(sharding, shard.work_id):
            return DeliveryReport(skipped=True)
        result = self._post(shard.room_id, shard.recipients, shard.frame)
        again = sorted(c for c, failure in result.failed.items() if failure.kind in TRANSIENT)
        if again:
            self._queue_again(sharding, shard, again)
        try:
            sharding.ledger.mark_done(shard.work_id)
        except Exception:  # a redelivery would post again: a duplicate, never a loss
            log.exception("could not record work item %s as done", shard.work_id)
        return DeliveryReport(
            delivered=result.delivered, gone=len(result.gone),
            failed=len(result.failed) - len(again), requeued=len(again),
        )

    def sweep_stale(self) -> SweepReport:
        """Remove expired connections and those API Gateway no longer knows, chunk by chunk,
        then tell every room of the departures nobody has claimed (a disconnect whose member
        read failed, say).

        Each is removed on its own so that only what this sweep really deleted is counted: a
        $disconnect racing the sweep has already told the rooms.
        """
        checked = removed = 0
        for chunk in _chunks(self.store.connections(), SWEEP_CHUNK):
            checked += len(chunk)
            now = self.clock.now_ms()
            expired = [c.id for c in chunk if c.is_expired(now)]
            probed = [c.id for c in chunk if should_probe(c, now)]
            gone = self.notifier.find_gone(probed) if probed else frozenset()
            removed += len(self._drop_gone([*expired, *sorted(gone)]))
        for room_id in self.store.departed_rooms():
            self._finish_departures(self.store.room(room_id))
        return SweepReport(checked=checked, removed=removed)

    def stats(self) -> Stats:
        return self.store.stats()

    # -- helpers -----------------------------------------------------------------

    def _join_atomically(self, connection_id: ConnectionId, room_id: RoomId) -> Connection:
        for _ in range(JOIN_ATTEMPTS):
            connection = self.store.get(connection_id)
            if connection is None:
                raise errors.NotConnected()
            check_join(self.access, connection.grant, room_id)
            decision = decide_join(connection, room_id, self.limits)
            if decision.already_member:
                return connection
            self._check_room_capacity(room_id)
            try:
                return self.store.join(connection, room_id, self.clock.now_ms(), decision.evict)
            except errors.ConcurrentUpdate:
                continue
            except errors.ConnectionNotFound:
                raise errors.NotConnected() from None
            except Exception as failure:
                return self._landed_join(connection_id, room_id, failure)
        raise errors.ConcurrentUpdate(f"{connection_id} kept changing while joining {room_id}")

    def _check_room_capacity(self, room_id: RoomId) -> None:
        """One member read more, only when a limit is set. Joins racing for the last places
        may each pass it: the limit can be exceeded by the number of such joins."""
        if self.limits.max_members_per_room is not None:
            check_room_capacity(len(self.store.members(room_id)), self.limits)

    def _landed_join(
        self, connection_id: ConnectionId, room_id: RoomId, failure: Exception
    ) -> Connection:
        """A join that failed may have committed before its answer was lost: look before
        refusing, or the room would never hear of it."""
        connection = self.store.get(connection_id)
        if connection is None or not connection.is_unannounced_in(room_id):
            raise failure
        log.warning("a join of %s to %s committed though its write failed", connection_id, room_id)
        return connection

    def _left(self, connection_id: ConnectionId, room_id: RoomId, user_id: UserId) -> bool:
        try:
            return self.store.leave(connection_id, room_id, user_id)
        except Exception:
            connection = self.store.get(connection_id)  # the same question as _landed_join's
            if connection is None or connection.in_room(room_id):
                raise
            log.warning("a leave of %s from %s committed though its write failed",
                        connection_id, room_id)
            return True

    def _settle(
        self, connection_id: ConnectionId, room_id: RoomId, departures: Sequence[RoomId]
    ) -> None:
        """The rooms have heard; failing to record it only risks announcing it again on a
        rejoin, so it must not fail the join."""
        try:
            self.store.mark_announced(connection_id, room_id, departures)
        except Exception:
            log.exception("could not record that %s was announced in %s", connection_id, room_id)

    def _refuse(self, connection_id: ConnectionId, refused: errors.DomainError) -> Reply:
        self._deliver(connection_id, frames.error(refused.message, self.clock.now_ms()))
        return Reply(refused.status_code, refused.message)

    def _replay(self, room_id: RoomId, since: int, epoch: str | None, latest: int) -> Replay:
        """A `since` of another epoch, or past the room's latest seq, was counted by an
        earlier log (an in-memory one that restarted): all that is retained is new to the
        client, and what it had before is not part of this log."""
        if since <= latest and epoch in (None, self.log.epoch):
            return self.log.replay(room_id, since, latest)
        return evolve(self.log.replay(room_id, 0, latest), complete=False)

    def _deliver(self, connection_id: ConnectionId, frame: Frame) -> bool:
        """Whether the connection is still there to take more (a failed frame aside)."""
        try:
            self.notifier.send(connection_id, frame)
        except errors.ConnectionGone:
            self._drop_gone_after_delivery([connection_id])
            return False
        except errors.DeliveryFailed as failure:
            log.warning("could not deliver %s to %s: %s", frame.action, connection_id, failure)
        return True

    def _deliver_in_order(self, connection_id: ConnectionId, messages: Iterable[Message]) -> None:
        for said in messages:
            if not self._deliver(connection_id, frames.message(said)):
                return

    def _broadcast(
        self, room_id: RoomId, connection_ids: Sequence[ConnectionId], frame: Frame
    ) -> None:
        if connection_ids:
            self._post(room_id, self._queue_past_first_shard(room_id, connection_ids, frame),
                       frame)

    def _post(
        self, room_id: RoomId, connection_ids: Sequence[ConnectionId], frame: Frame
    ) -> BroadcastResult:
        result = self.notifier.broadcast(connection_ids, frame)
        for connection_id, failure in result.failed.items():
            log.warning("could not deliver %s to %s: %s", frame.action, connection_id, failure)
        if result.gone:
            self._drop_gone_after_delivery(sorted(result.gone), room_id)
        return result

    def _queue_past_first_shard(
        self, room_id: RoomId, connection_ids: Sequence[ConnectionId], frame: Frame
    ) -> Sequence[ConnectionId]:
        """Queue every shard but the first, and return who to post to now: the first shard,
        and the recipients of any shard the queue would not take."""
        if self.sharding is None or len(connection_ids) <= self.sharding.shard_size:
            return connection_ids
        first, shards = plan(room_id, connection_ids, frame, self.sharding.shard_size)
        try:
            unqueued = self.sharding.queue.enqueue(shards)
        except Exception:
            log.exception("could not queue the shards of a %s to %s", frame.action, room_id)
            unqueued = shards
        if unqueued:
            log.warning("posting %s to %d shards of %s the queue did not take",
                        frame.action, len(unqueued), room_id)
        return [*first, *(c for shard in unqueued for c in shard.recipients)]

    def _sharding(self) -> Sharding:
        if self.sharding is None:
            raise errors.ShardUndelivered("a shard came to a service built with no fan-out queue")
        return self.sharding

    @staticmethod
    def _already_done(sharding: Sharding, work_id: str) -> bool:
        try:
            return sharding.ledger.is_done(work_id)
        except Exception:  # deliver: at worst a duplicate
            log.exception("could not tell whether work item %s is done", work_id)
            return False

    @staticmethod
    def _queue_again(sharding: Sharding, shard: Shard, recipients: Sequence[ConnectionId]) -> None:
        if shard.attempt + 1 >= MAX_SHARD_ATTEMPTS:
            raise errors.ShardUndelivered(
                f"{len(recipients)} recipients of work item {shard.work_id} failed "
                f"{MAX_SHARD_ATTEMPTS} attempts"
            )
        retry = shard.retry(recipients)
        try:
            unqueued = sharding.queue.enqueue([retry], retry_delay_seconds(shard.attempt))
        except Exception:
            log.exception("could not queue work item %s again", retry.work_id)
            unqueued = [retry]
        if unqueued:
            raise errors.ShardUndelivered(
                f"{len(recipients)} recipients of work item {shard.work_id} failed and "
                "could not be queued again"
            )

    def _announce(self, room_id: RoomId, frame: Frame) -> None:
        room = self.store.room(room_id)
        self._finish_departures(room)
        self._broadcast(room_id, [m.connection_id for m in room.members], frame)

    def _drop_gone_after_delivery(
        self, connection_ids: Sequence[ConnectionId], room_id: RoomId | None = None
    ) -> None:
        """Housekeeping after a delivery that already happened: a failure here must not turn
        the use case into an error (a client retrying on it would send twice). What is left
        behind is found again by the next broadcast or the cleanup job."""
        try:
            self._drop_gone(connection_ids, room_id)
        except Exception:
            log.exception("could not remove gone connections %s", list(connection_ids))

    def _drop_gone(
        self, connection_ids: Iterable[ConnectionId], room_id: RoomId | None = None
    ) -> list[Connection]:
        """Remove gone connections and tell their rooms; return those this call removed.

        A membership whose connection record is already gone (a removal cut short) is
        dropped from the room it was reached through, or the room would keep posting to
        it until the TTL."""
        removed = []
        for connection_id in connection_ids:
            connection = self.store.remove(connection_id)
            if connection is not None:
                removed.append(connection)
            elif room_id is not None:
                self.store.leave(connection_id, room_id)
        self._announce_departures(removed)
        return removed

    def _announce_departures(self, departed: Sequence[Connection]) -> None:
        """Tell each room its departed members have left: one member read per room, which
        finds the departures the removals wrote, and one claim."""
        for room_id in sorted({room for connection in departed for room in connection.rooms}):
            self._finish_departures(self.store.room(room_id))

    def _finish_departures(self, room: Room, but: ConnectionId | None = None) -> None:
        """Tell the room's members (`but` one, a joiner who never saw them) `userLeft` for
        each departure of the read that this call claims. A claim takes a departure once, so
        no two readers announce it; a process that dies between the claim and the posts
        loses it. A claim that fails leaves them all to the room's next reader."""
        if not room.departures:
            return
        try:
            claimed = self.store.claim_departures(room.id, room.departures)
        except Exception:
            log.exception("could not claim the departures from %s", room.id)
            return
        recipients = [m.connection_id for m in room.members if m.connection_id != but]
        now = self.clock.now_ms()
        for departure in claimed:
            self._broadcast(room.id, recipients, frames.user_left(room.id, departure.user_id, now))


def _chunks(items: Iterable[Connection], size: int) -> Iterator[list[Connection]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
