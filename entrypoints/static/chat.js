// The chat page: pick a name, join a room, see who comes and goes, send and receive.

const $ = (selector) => document.querySelector(selector);

const state = { client: null, userId: null, roomId: null, members: [] };

async function websocketUrl() {
  const override = new URLSearchParams(location.search).get('ws');
  if (override) {
    return override;
  }
  const config = await (await fetch('/config.json')).json();
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.host}/${config.stage}`;
}

function setStatus(text, kind) {
  const status = $('#status');
  status.textContent = text;
  status.dataset.kind = kind;
}

function addLine(kind, text, sender) {
  const line = document.createElement('li');
  line.className = kind;
  if (sender) {
    const who = document.createElement('strong');
    who.textContent = sender;
    line.append(who, ' ');
  }
  line.append(text);
  $('#log').append(line);
  line.scrollIntoView({ block: 'end' });
}

function renderMembers() {
  const list = $('#members');
  list.replaceChildren(
    ...state.members.map((member) => {
      const item = document.createElement('li');
      item.textContent = member === state.userId ? `${member} (you)` : member;
      return item;
    }),
  );
  $('#room-title').textContent = state.roomId ? `#${state.roomId}` : 'No room';
}

function removeOne(list, value) {
  const index = list.indexOf(value);
  if (index >= 0) {
    list.splice(index, 1);
  }
}

const handlers = {
  joinedRoom(frame) {
    state.roomId = frame.roomId;
    state.members = [...frame.members];
    addLine('system', `You joined #${frame.roomId}`);
  },
  userJoined(frame) {
    state.members.push(frame.userId);
    addLine('system', `${frame.userId} joined`);
  },
  userLeft(frame) {
    removeOne(state.members, frame.userId);
    addLine('system', `${frame.userId} left`);
  },
  leftRoom(frame) {
    addLine('system', `You left #${frame.roomId}`);
    state.roomId = null;
    state.members = [];
  },
  message(frame) {
    addLine(frame.sender === state.userId ? 'message mine' : 'message', frame.message, frame.sender);
  },
  error(frame) {
    addLine('error', frame.message);
  },
};

function onFrame(frame) {
  const handle = handlers[frame.action];
  if (handle) {
    handle(frame);
  } else if (frame.message) {
    addLine('error', frame.message);
  }
  renderMembers();
}

async function connectAs(userId) {
  if (state.client) {
    state.client.disconnect();
  }
  state.userId = userId;
  state.client = new AWSWebSocketClient(await websocketUrl(), {
    onOpen: () => {
      setStatus(`Connected as ${userId}`, 'open');
      if (state.roomId) {
        state.client.joinRoom(state.roomId);
      }
    },
    onClose: (event) => setStatus(`Disconnected (${event.code})`, 'closed'),
    onReconnecting: (delay, attempt) =>
      setStatus(`Reconnecting in ${delay / 1000}s (attempt ${attempt})`, 'reconnecting'),
    onMessage: onFrame,
  });
  await state.client.connect({ userId });
}

async function join(event) {
  event.preventDefault();
  const userId = $('#name').value.trim() || 'anonymous';
  const roomId = $('#room').value.trim();
  if (!roomId) {
    return;
  }
  try {
    if (!state.client || state.userId !== userId || !state.client.ws ||
        state.client.ws.readyState !== WebSocket.OPEN) {
      state.roomId = null;
      await connectAs(userId);
    }
    state.client.joinRoom(roomId);
  } catch (err) {
    setStatus('Could not connect', 'closed');
  }
}

function leave() {
  if (state.client && state.roomId) {
    state.client.leaveRoom(state.roomId);
  }
}

function send(event) {
  event.preventDefault();
  const input = $('#message');
  if (state.client && state.roomId && input.value) {
    state.client.sendMessage(state.roomId, input.value);
    input.value = '';
  }
}

$('#join-form').addEventListener('submit', join);
$('#leave').addEventListener('click', leave);
$('#send-form').addEventListener('submit', send);
renderMembers();
