// The browser client: query parameters on connect, joinRoom / leaveRoom / sendMessage /
// ping, a 30 s heartbeat, and a socket that comes back by itself. After every close but
// its own disconnect() (API Gateway's 1001 at 2 hours or 10 idle minutes included) it
// reconnects with exponential backoff and full jitter, rejoins each room with `since` =
// the last seq it delivered, and hands each message to onMessage once and in seq order.
// `protocols` (e.g. ['roomcast', token]) keeps a token out of the URL.
//
// The ordering is the same bookkeeping as roomcast_client/continuity.py: a message past a
// hole is held; a hole that lasts HOLD_MS (a later seq can overtake one still in flight) is
// asked for with `joinRoom ... since`; a hole the server no longer has, or one asked for
// FILL_ATTEMPTS times without an answer, is reported to onGap and passed over.

const HOLD_MS = 500;
const FILL_TIMEOUT_MS = 5000;
const FILL_ATTEMPTS = 3;

class RoomOrder {
  constructor() {
    this.last = null; // the last seq handed on
    this.epoch = null; // the log that counted it
    this.pending = new Map(); // seq -> frame, held behind a hole
    this.fillTarget = null; // the seq the answered fill's replay ends at
    this.fillAskedAt = null;
    this.fillAttempts = 0;
    this.filling = false; // the next answer is to a fill, not the page's own join
    this.holeSeenAt = null;
  }

  asked(now, filling = false) {
    this.fillAskedAt = now;
    this.fillTarget = null;
    this.fillAttempts += 1;
    this.filling = filling;
  }

  // The `since` (and its epoch) to ask the server for.
  since() {
    const since = { since: this.last ?? 0 };
    return this.epoch === null ? since : { ...since, epoch: this.epoch };
  }

  // The room's log counts anew (a local gateway's in-memory one restarted): nothing held or
  // seen belongs to its numbering, and what was missed cannot be counted.
  restarted(roomId) {
    const gap = { roomId, first: this.last + 1, last: null };
    this.pending.clear();
    this.last = null;
    return [gap];
  }

  // Give up waiting for what is missing up to `upTo`: the gaps, and what was held below it.
  skip(roomId, upTo) {
    const held = [...this.pending.keys()].filter((s) => s <= upTo).sort((a, b) => a - b);
    const gaps = [];
    let expected = this.last + 1;
    for (const seq of [...held, upTo + 1]) {
      if (seq > expected) {
        gaps.push({ roomId, first: expected, last: seq - 1 });
      }
      expected = seq + 1;
    }
    this.last = upTo;
    const frames = held.map((seq) => {
      const frame = this.pending.get(seq);
      this.pending.delete(seq);
      return frame;
    });
    return { gaps, frames };
  }

  // Hand on everything that is now in order; whether a hole is waiting (to look again later).
  flush(now) {
    for (const seq of [...this.pending.keys()]) {
      if (seq <= this.last) {
        this.pending.delete(seq);
      }
    }
    const ready = [];
    while (this.pending.has(this.last + 1)) {
      this.last += 1;
      ready.push(this.pending.get(this.last));
      this.pending.delete(this.last);
    }
    if (this.fillTarget !== null && this.last >= this.fillTarget) {
      this.fillTarget = null;
      this.fillAskedAt = null;
      this.fillAttempts = 0;
    }
    if (!this.pending.size) {
      this.holeSeenAt = null;
      return { ready, holding: false };
    }
    this.holeSeenAt ??= now;
    return { ready, holding: true };
  }
}

class AWSWebSocketClient {
  constructor(url, options = {}) {
    this.url = url;
    this.ws = null;
    this.reconnectAttempts = 0;
    this.maxReconnectAttempts = options.maxReconnectAttempts ?? Infinity;
    this.reconnectDelay = options.reconnectDelay ?? 1000;
    this.maxReconnectDelay = options.maxReconnectDelay ?? 30000;
    this.pingIntervalMs = options.pingIntervalMs ?? 30000;
    this.protocols = options.protocols ?? [];
    this.pingInterval = null;
    this.reconnectTimer = null;
    this.stopped = false;
    this.rooms = new Map(); // roomId -> RoomOrder, for every room joined through this client

    this.onOpen = options.onOpen || (() => {});
    this.onClose = options.onClose || (() => {});
    this.onMessage = options.onMessage || (() => {});
    this.onError = options.onError || (() => {});
    this.onReconnecting = options.onReconnecting || (() => {});
    this.onGap = options.onGap || (() => {});
  }

  connect(queryParams = {}) {
    this.stopped = false;
    const queryString = Object.entries(queryParams)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
      .join('&');
    const fullUrl = queryString ? `${this.url}?${queryString}` : this.url;

    return new Promise((resolve, reject) => {
      try {
        this.ws = this.protocols.length
          ? new WebSocket(fullUrl, this.protocols)
          : new WebSocket(fullUrl);
      } catch (err) {
        reject(err);
        return;
      }
      const ws = this.ws;
      let opened = false;

      ws.onopen = () => {
        opened = true;
        const resumed = this.reconnectAttempts > 0;
        this.reconnectAttempts = 0;
        this.startPing();
        this.onOpen({ resumed });
        this.resume();
        resolve();
      };

      ws.onmessage = (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch (err) {
          console.error('Failed to parse message:', err);
          return;
        }
        this.handleMessage(data);
      };

      ws.onclose = (event) => {
        this.stopPing();
        this.onClose(event);
        if (this.shouldReconnect()) {
          this.scheduleReconnect(queryParams);
        }
        if (!opened) {
          reject(event);
        }
      };

      ws.onerror = (error) => {
        this.onError(error);
      };
    });
  }

  handleMessage(data) {
    this.tick();
    switch (data.action) {
      case 'pong':
        break;
      case 'error':
        console.error('Server error:', data.message);
        this.onMessage(data);
        break;
      case 'joinedRoom':
        this.joined(data);
        break;
      case 'message':
        this.message(data);
        break;
      case 'leftRoom': // also when joining one room too many left the oldest
        this.rooms.delete(data.roomId);
        this.onMessage(data);
        break;
      default:
        this.onMessage(data);
    }
  }

  joined(frame) {
    const room = this.rooms.get(frame.roomId);
    if (!room || !Number.isInteger(frame.seq)) {
      this.onMessage(frame);
      return;
    }
    let gaps = [];
    // The answer to the client's own fill is bookkeeping, not news for the page.
    const ready = room.filling && 'recovered' in frame ? [] : [frame];
    room.filling = false;
    if (room.epoch !== null && frame.epoch !== room.epoch && room.last !== null) {
      gaps = room.restarted(frame.roomId);
    }
    room.epoch = typeof frame.epoch === 'string' ? frame.epoch : null;
    if ('recovered' in frame) {
      const start = frame.seq - (frame.replayed || 0);
      room.fillTarget = frame.seq;
      if (room.last === null) {
        room.last = start;
      } else if (start > room.last && !frame.recovered) {
        const skipped = room.skip(frame.roomId, start);
        gaps = [...gaps, ...skipped.gaps];
        ready.push(...skipped.frames);
      }
    } else if (room.last === null) {
      room.last = frame.seq;
    }
    this.deliver(frame.roomId, room, ready, gaps);
  }

  message(frame) {
    const room = this.rooms.get(frame.roomId);
    if (!room || !Number.isInteger(frame.seq)) {
      this.onMessage(frame);
      return;
    }
    if ((room.last !== null && frame.seq <= room.last) || room.pending.has(frame.seq)) {
      return; // a live frame and its replay both arrived
    }
    room.pending.set(frame.seq, frame);
    if (room.last !== null) {
      this.deliver(frame.roomId, room, [], []);
    }
  }

  deliver(roomId, room, first, gaps) {
    const { ready, holding } = room.flush(Date.now());
    for (const gap of gaps) {
      this.onGap(gap);
    }
    for (const frame of [...first, ...ready]) {
      this.onMessage(frame);
    }
    if (holding) {
      this.tickLater(HOLD_MS);
    }
  }

  tickLater(delay) {
    setTimeout(() => this.tick(), delay);
  }

  // A hole that lasted HOLD_MS: ask for it. A fill whose replay has not come: ask again, or
  // after FILL_ATTEMPTS report the hole and go on.
  tick() {
    const now = Date.now();
    for (const [roomId, room] of this.rooms) {
      if (!room.pending.size || room.last === null) {
        continue;
      }
      if (room.fillAskedAt === null) {
        if (room.holeSeenAt !== null && now - room.holeSeenAt >= HOLD_MS) {
          room.asked(now, true);
          this.send('joinRoom', { roomId, ...room.since() });
          this.tickLater(FILL_TIMEOUT_MS);
        }
        continue;
      }
      if (now - room.fillAskedAt < FILL_TIMEOUT_MS) {
        continue;
      }
      if (room.fillAttempts < FILL_ATTEMPTS) {
        room.asked(now, true);
        this.send('joinRoom', { roomId, ...room.since() });
        this.tickLater(FILL_TIMEOUT_MS);
        continue;
      }
      const { gaps } = room.skip(roomId, Math.min(...room.pending.keys()) - 1);
      room.fillTarget = null;
      room.fillAskedAt = null;
      room.holeSeenAt = null;
      room.fillAttempts = 0;
      room.filling = false;
      this.deliver(roomId, room, [], gaps);
    }
  }

  // After a reconnect: rejoin every room, asking for what was said since the last seq.
  resume() {
    for (const [roomId, room] of this.rooms) {
      const since = room.since();
      room.asked(Date.now());
      this.send('joinRoom', { roomId, ...since });
    }
  }

  send(action, payload = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      console.warn('WebSocket not connected');
      return false;
    }
    this.ws.send(JSON.stringify({ action, ...payload }));
    return true;
  }

  joinRoom(roomId, since) {
    if (!this.rooms.has(roomId)) {
      this.rooms.set(roomId, new RoomOrder());
    }
    return this.send('joinRoom', since === undefined ? { roomId } : { roomId, since });
  }

  leaveRoom(roomId) {
    this.rooms.delete(roomId);
    return this.send('leaveRoom', { roomId });
  }

  // A join the server refused (e.g. a room the token does not grant): stop tracking it, so
  // that a reconnect does not ask for it again. Sends nothing.
  forgetRoom(roomId) {
    this.rooms.delete(roomId);
  }

  sendMessage(roomId, message) {
    return this.send('sendMessage', { roomId, message });
  }

  startPing() {
    this.stopPing();
    this.pingInterval = setInterval(() => this.send('ping'), this.pingIntervalMs);
  }

  stopPing() {
    if (this.pingInterval) {
      clearInterval(this.pingInterval);
      this.pingInterval = null;
    }
  }

  shouldReconnect() {
    return !this.stopped && this.reconnectAttempts < this.maxReconnectAttempts;
  }

  // Full jitter: a random wait up to the capped exponential delay of this attempt.
  backoff(attempt) {
    const ceiling = Math.min(this.maxReconnectDelay, this.reconnectDelay * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  scheduleReconnect(queryParams) {
    this.reconnectAttempts++;
    const delay = this.backoff(this.reconnectAttempts);
    this.onReconnecting(delay, this.reconnectAttempts);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.connect(queryParams).catch(() => {});
    }, delay);
  }

  disconnect() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    if (this.ws) {
      this.ws.close(1000, 'Client disconnect');
    }
  }
}

window.AWSWebSocketClient = AWSWebSocketClient;
