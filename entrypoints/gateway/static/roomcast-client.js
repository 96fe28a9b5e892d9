// The chat page's client for roomcast's routes: query parameters on connect, joinRoom /
// leaveRoom / sendMessage / ping, a heartbeat every pingIntervalMs, reconnect with
// exponential backoff (onReconnecting tells the UI) except after close codes 1000 and 1001,
// still trying when the new socket fails before it opens, and `protocols` (e.g.
// ['roomcast', token]: a token in Sec-WebSocket-Protocol stays out of the URL).

class AWSWebSocketClient {
  constructor(url, options = {}) {
    this.url = url;
    this.ws = null;
    this.reconnectAttempts = 0;
    this.maxReconnectAttempts = options.maxReconnectAttempts ?? 5;
    this.reconnectDelay = options.reconnectDelay ?? 1000;
    this.pingIntervalMs = options.pingIntervalMs ?? 30000;
    this.protocols = options.protocols ?? [];
    this.pingInterval = null;
    this.reconnectTimer = null;

    this.onOpen = options.onOpen || (() => {});
    this.onClose = options.onClose || (() => {});
    this.onMessage = options.onMessage || (() => {});
    this.onError = options.onError || (() => {});
    this.onReconnecting = options.onReconnecting || (() => {});
  }

  connect(queryParams = {}) {
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

      ws.onopen = () => {
        this.reconnectAttempts = 0;
        this.startPing();
        this.onOpen();
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
        if (this.shouldReconnect(event.code)) {
          this.scheduleReconnect(queryParams);
        }
      };

      ws.onerror = (error) => {
        this.onError(error);
        reject(error);
      };
    });
  }

  handleMessage(data) {
    switch (data.action) {
      case 'pong':
        break;
      case 'error':
        console.error('Server error:', data.message);
        this.onMessage(data);
        break;
      default:
        this.onMessage(data);
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

  joinRoom(roomId) {
    return this.send('joinRoom', { roomId });
  }

  leaveRoom(roomId) {
    return this.send('leaveRoom', { roomId });
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

  shouldReconnect(code) {
    if (code === 1000 || code === 1001) {
      return false;
    }
    return this.reconnectAttempts < this.maxReconnectAttempts;
  }

  scheduleReconnect(queryParams) {
    this.reconnectAttempts++;
    const delay = this.reconnectDelay * Math.pow(2, this.reconnectAttempts - 1);
    this.onReconnecting(delay, this.reconnectAttempts);
    this.reconnectTimer = setTimeout(() => {
      this.connect(queryParams).catch(() => {});
    }, delay);
  }

  disconnect() {
    this.maxReconnectAttempts = 0;
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    if (this.ws) {
      this.ws.close(1000, 'Client disconnect');
    }
  }
}

window.AWSWebSocketClient = AWSWebSocketClient;
