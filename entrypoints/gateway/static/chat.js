// The chat page: pick a name, join a room, see who comes and goes, send and receive.

const $ = (selector) => document.querySelector(selector);
const utf8 = new TextEncoder();
const LOBBY = '';
// API Gateway's frame quota and roomcast's default message limit, until /config.json says.
const DEFAULT_LIMITS = { maxFrameBytes: 32768, maxMessageBytes: 32768 };

const state = {
  config: null,
  client: null,
  typedName: null, // the Name this connection was opened with
  userId: null, // who the server recorded this connection as (joinedRoom.userId)
  roomId: null, // the room this connection is in and sends to
  joining: null, // the room a joinRoom was sent for and not yet answered
  shown: LOBBY, // the room whose log is on screen
  logs: new Map(), // roomId -> its <li> lines, kept while another room is shown
  members: new Map(), // roomId -> userIds
  unlisted: new Map(), // roomId -> members joinedRoom counted (memberCount) but did not list
  pending: [], // {roomId, message} sent by this connection and not yet echoed back
};

async function pageConfig() {
  if (!state.config) {
    state.config = { ...DEFAULT_LIMITS, ...(await (await fetch('/config.json')).json()) };
  }
  return state.config;
}

async function websocketUrl() {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) {
    return override;
  }
  const config = await pageConfig();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/${config.stage}`;
}

function setStatus(text, kind) {
  const status = $('#status');
  status.textContent = text;
  status.dataset.kind = kind;
}

function showProblem(text) {
  const problem = $('#send-problem');
  problem.textContent = text || '';
  problem.hidden = !text;
}

function timeOf(timestamp) {
  const at = new Date(timestamp ?? Date.now());
  const time = document.createElement('time');
  const two = (n) => String(n).padStart(2, '0');
  time.dateTime = at.toISOString();
  time.title = at.toLocaleString();
  time.textContent = `${two(at.getHours())}:${two(at.getMinutes())}`;
  return time;
}

function logOf(roomId) {
  if (!state.logs.has(roomId)) {
    state.logs.set(roomId, []);
  }
  return state.logs.get(roomId);
}

function membersOf(roomId) {
  if (!state.members.has(roomId)) {
    state.members.set(roomId, []);
  }
  return state.members.get(roomId);
}

function addLine(roomId, kind, text, { sender, timestamp } = {}) {
  const line = document.createElement('li');
  line.className = kind;
  line.append(timeOf(timestamp));
  if (sender) {
    const who = document.createElement('strong');
    who.textContent = sender;
    line.append(who, ' ');
  }
  const body = document.createElement('span');
  body.className = 'text';
  body.textContent = text;
  line.append(body);
  logOf(roomId).push(line);
  if (roomId === state.shown) {
    const log = $('#log');
    log.append(line);
    log.scrollTop = log.scrollHeight;
  }
}

function showRoom(roomId) {
  state.shown = roomId;
  const log = $('#log');
  log.replaceChildren(...logOf(roomId));
  log.scrollTop = log.scrollHeight;
}

// Another connection may use this page's name: frames say who, never which connection.
const twin = (userId) => `${userId} (another connection)`;

function renderMembers() {
  let seenSelf = false;
  const items = (state.roomId ? membersOf(state.roomId) : []).map((member) => {
    const item = document.createElement('li');
    item.textContent = member;
    if (member === state.userId) {
      item.textContent = seenSelf ? twin(member) : `${member} (you)`;
      seenSelf = true;
    }
    return item;
  });
  const unlisted = state.roomId ? state.unlisted.get(state.roomId) || 0 : 0;
  if (unlisted > 0) {
    const more = document.createElement('li');
    more.className = 'more';
    more.textContent = `+${unlisted} more`;
    items.push(more);
  }
  $('#members').replaceChildren(...items);
  const left = state.shown ? `#${state.shown} (left)` : 'No room';
  $('#room-title').textContent = state.roomId ? `#${state.roomId}` : left;
}

function removeOne(list, value) {
  const index = list.indexOf(value);
  if (index >= 0) {
    list.splice(index, 1);
  }
  return index >= 0;
}

// The server echoes a message to its sender: the oldest matching one sent from here is ours.
function takePending(roomId, message) {
  const index = state.pending.findIndex((p) => p.roomId === roomId && p.message === message);
  if (index >= 0) {
    state.pending.splice(index, 1);
  }
  return index >= 0;
}

const presence = (frame, verb) =>
  frame.userId === state.userId ? `${twin(frame.userId)} ${verb}` : `${frame.userId} ${verb}`;

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// The answer to a join with `since`: a reconnect's rejoin, or a gap being filled. The
// `replayed` messages follow it; what could not be recovered the client tells onGap.
function noteRecovery(frame) {
  if (frame.replayed > 0) {
    addLine(frame.roomId, 'notice', `${plural(frame.replayed, 'message', 'messages')} you missed`);
  }
  if (frame.replayed === 0 && frame.recovered) {
    addLine(frame.roomId, 'system', `Back in #${frame.roomId}`);
  }
}

// With ROOMCAST_ROOM_ACCESS=token, what the connection's token does not grant.
const NOT_ALLOWED = 'Not allowed in this room';

// An error answers the oldest unanswered frame: a pending join (frames come back in the
// order they were sent), else a message sent from here.
function refused(frame) {
  const denied = frame.message === NOT_ALLOWED;
  const roomId = state.joining;
  if (roomId !== null) {
    state.joining = null;
    state.client?.forgetRoom(roomId); // never joined: not a room to rejoin after a reconnect
    const text = denied ? `You may not enter #${roomId}: your token does not grant it.` : null;
    addLine(state.shown, 'error', text || frame.message, frame);
    return;
  }
  if (denied && state.roomId) {
    removeOne(state.pending, state.pending.find((p) => p.roomId === state.roomId));
    const text = `You may not send messages in #${state.roomId}: your token does not grant it.`;
    addLine(state.shown, 'error', text, frame);
    return;
  }
  addLine(state.shown, 'error', frame.message, frame);
}

const handlers = {
  joinedRoom(frame) {
    const resumed = 'recovered' in frame && logOf(frame.roomId).length > 0;
    if (state.joining === frame.roomId) {
      state.joining = null;
    }
    state.roomId = frame.roomId;
    if (frame.userId) {
      state.userId = frame.userId;
      setStatus(`Connected as ${frame.userId}`, 'open');
    }
    state.members.set(frame.roomId, [...frame.members]);
    // A big room's joinedRoom lists only some members; memberCount is how many there are.
    state.unlisted.set(frame.roomId, Math.max(0, (frame.memberCount || 0) - frame.members.length));
    document.body.classList.add('joined');
    document.body.classList.remove('editing');
    if (state.shown !== frame.roomId) {
      showRoom(frame.roomId);
    }
    if (resumed) {
      noteRecovery(frame);
    } else {
      addLine(frame.roomId, 'system', `You joined #${frame.roomId}`);
    }
  },
  userJoined(frame) {
    membersOf(frame.roomId).push(frame.userId);
    addLine(frame.roomId, 'system', presence(frame, 'joined'), frame);
  },
  userLeft(frame) {
    const unlisted = state.unlisted.get(frame.roomId) || 0;
    if (!removeOne(membersOf(frame.roomId), frame.userId) && unlisted > 0) {
      state.unlisted.set(frame.roomId, unlisted - 1);
    }
    addLine(frame.roomId, 'system', presence(frame, 'left'), frame);
  },
  leftRoom(frame) {
    addLine(frame.roomId, 'system', `You left #${frame.roomId}`);
    state.members.delete(frame.roomId);
    state.unlisted.delete(frame.roomId);
    if (state.roomId === frame.roomId) {
      state.roomId = null;
      document.body.classList.remove('joined');
    }
  },
  message(frame) {
    const mine = frame.sender === state.userId && takePending(frame.roomId, frame.message);
    const sender = !mine && frame.sender === state.userId ? twin(frame.sender) : frame.sender;
    addLine(frame.roomId, mine ? 'message mine' : 'message', frame.message, {
      sender,
      timestamp: frame.timestamp,
    });
  },
  error(frame) {
    refused(frame);
  },
};

function onFrame(frame) {
  const handle = handlers[frame.action];
  if (handle) {
    handle(frame);
  } else if (frame.message) {
    addLine(state.shown, 'error', frame.message); // API Gateway's own frames have no action
  }
  renderMembers();
}

// The Token field, filled from ?token= in the page's address when there is one. It goes in
// Sec-WebSocket-Protocol when the gateway's authorizer looks for it there, else in the query.
function connectQuery(userId, config) {
  const token = $('#token').value.trim();
  return token && config.tokenIn !== 'protocol' ? { userId, token } : { userId };
}

function connectProtocols(config) {
  const token = $('#token').value.trim();
  return token && config.tokenIn === 'protocol' ? ['roomcast', token] : [];
}

// Until joinedRoom names the user the server recorded, the page shows no name: with a
// token that is the token's subject, whatever was typed.
async function connectAs(userId) {
  if (state.client) {
    state.client.disconnect();
  }
  state.typedName = userId;
  state.userId = null;
  state.joining = null;
  state.pending = [];
  const config = await pageConfig();
  const client = new AWSWebSocketClient(await websocketUrl(), {
    protocols: connectProtocols(config),
    onOpen: () => {
      setStatus(state.userId ? `Connected as ${state.userId}` : 'Connected', 'open');
    },
    // The client rejoins its rooms with `since` by itself: the missed lines come back.
    onClose: () => {
      if (!client.stopped) {
        setStatus('Reconnecting...', 'reconnecting');
      }
    },
    onReconnecting: (delay, attempt) =>
      setStatus(`Reconnecting... (attempt ${attempt})`, 'reconnecting'),
    onGap: (gap) => addLine(gap.roomId, 'notice', 'Some messages could not be recovered'),
    onMessage: onFrame,
  });
  state.client = client;
  await client.connect(connectQuery(userId, config));
}

// Browsers hide a refused handshake's HTTP status: say what refuses one here.
async function explainRefusal(userId) {
  const reachable = await fetch('/config.json', { cache: 'no-store' }).then(
    () => true,
    () => false,
  );
  if (!reachable) {
    setStatus('Could not connect', 'refused');
    addLine(state.shown, 'error', 'The server is not reachable.');
    return;
  }
  setStatus('Connection refused', 'refused');
  addLine(
    state.shown,
    'error',
    `The server refused the connection as ${userId}: with authentication on, a missing or ` +
      'invalid token is refused (HTTP 401; 403 when an authorizer denies it). Paste a token ' +
      'in the Token field or open this page with ?token=<JWT>; for local work, ' +
      `roomcast token --sub ${userId} prints one. The user is the token's sub, not the name.`,
  );
}

function isOpen() {
  return Boolean(state.client?.ws && state.client.ws.readyState === WebSocket.OPEN);
}

async function join(event) {
  event.preventDefault();
  showProblem(null);
  const userId = $('#name').value.trim() || 'anonymous';
  const roomId = $('#room').value.trim();
  if (!roomId) {
    return;
  }
  try {
    if (state.typedName !== userId || !isOpen()) {
      state.roomId = null;
      await connectAs(userId);
    }
    state.joining = roomId;
    state.client.joinRoom(roomId);
  } catch (err) {
    state.client?.disconnect();
    await explainRefusal(userId);
  }
  renderMembers();
}

function leave() {
  if (state.client && state.roomId) {
    state.client.leaveRoom(state.roomId);
  } else {
    showProblem('You are not in a room.');
  }
}

function sizeProblem(roomId, message) {
  const { maxMessageBytes, maxFrameBytes } = state.config || DEFAULT_LIMITS;
  const messageBytes = utf8.encode(message).length;
  if (messageBytes > maxMessageBytes) {
    return `Too long: ${messageBytes} bytes of UTF-8; a message may have at most ${maxMessageBytes}.`;
  }
  const frame = JSON.stringify({ action: 'sendMessage', roomId, message });
  const frameBytes = utf8.encode(frame).length;
  if (frameBytes > maxFrameBytes) {
    return `Too long: it would be a ${frameBytes}-byte frame; a frame may have at most ${maxFrameBytes} bytes. ` +
      'The page sends each message as one frame, so the frame limit applies, not the larger one ' +
      'on a message split into several frames.';
  }
  return null;
}

function checkSize() {
  const text = $('#message').value;
  showProblem(state.roomId && text ? sizeProblem(state.roomId, text) : null);
}

function send(event) {
  event.preventDefault();
  const input = $('#message');
  if (!input.value) {
    return;
  }
  if (state.roomId && !isOpen()) {
    showProblem('Reconnecting: the message was not sent. Try again in a moment.');
    return;
  }
  if (!state.roomId) {
    showProblem('Join a room first: pick a name and a room, then press Join.');
    return;
  }
  const problem = sizeProblem(state.roomId, input.value);
  showProblem(problem);
  if (problem) {
    return;
  }
  state.pending.push({ roomId: state.roomId, message: input.value });
  state.client.sendMessage(state.roomId, input.value);
  input.value = '';
}

const pageParameters = new URLSearchParams(location.search);
$('#token').value = pageParameters.get('token') || '';
$('#name').value = pageParameters.get('userId') || '';
$('#show-join').addEventListener('click', () => document.body.classList.toggle('editing'));
$('#join-form').addEventListener('submit', join);
$('#leave').addEventListener('click', leave);
$('#send-form').addEventListener('submit', send);
$('#message').addEventListener('input', checkSize);
pageConfig().catch(() => {});
renderMembers();
