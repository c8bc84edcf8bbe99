// One live WebSocket of the service's pages (the wallboard's WS /api/v1/live, the
// agent's desk WS /api/v1/desk): the token, the reconnecting, and what the page is told.
// The token comes from the URL fragment (#token=cc_..., never sent to the server in a
// URL) or the page's prompt, and is kept in localStorage under the page's own key. The
// socket sends it as its first frame. On a drop it reconnects by itself with backoff
// (jittered, up to 10 s); a socket silent for longer than the stream's heartbeat allows
// is taken as dead though no close came (a pulled cable). A token the service refuses
// (4401: revoked or unknown; 4403: a role that may not) stops the reconnecting: the page
// asks for another. `onLink(state)` tells the page where the link is: "connecting",
// "live" (a frame arrived), "lost", "revoked", "forbidden" or "no_token".
"use strict";

const MAX_BACKOFF_MS = 10000;

class LiveSocket {
  constructor({ path, tokenKey, query = () => "", onFrame, onLink, onOpen = () => {} }) {
    this.path = path;
    this.tokenKey = tokenKey;
    this.query = query;
    this.onFrame = onFrame;
    this.onLink = onLink;
    this.onOpen = onOpen;
    this.socket = null;
    this.connected = false;
    this.retry = 0;
    this.heardAt = 0;
    // the stream sends a frame at least every 15 s (a heartbeat when nothing happens)
    this.silentMs = 35000;
    setInterval(() => this.watchSilence(), 1000);
  }

  token() {
    const match = location.hash.match(/token=([^&]+)/);
    if (match) {
      localStorage.setItem(this.tokenKey, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname);
    }
    return localStorage.getItem(this.tokenKey);
  }

  useToken(token) {  // from the page's prompt
    localStorage.setItem(this.tokenKey, token);
    this.retry = 0;
    this.onLink("connecting");
    this.connect();
  }

  connect() {
    const token = this.token();
    if (!token) { this.onLink("no_token"); return; }
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${this.path}${this.query()}`);
    this.socket = ws;
    this.heardAt = performance.now();
    ws.onopen = () => { ws.send(JSON.stringify({ token })); this.onOpen(); };
    ws.onmessage = (event) => {
      this.heardAt = performance.now();
      const first = !this.connected;
      this.connected = true;
      this.retry = 0;
      if (first) this.onLink("live");
      this.onFrame(JSON.parse(event.data));
    };
    ws.onclose = (event) => {
      this.socket = null;
      this.connected = false;
      if (event.code === 4401 || event.code === 4403) {
        // reconnecting with a token the service refuses would only be refused again
        localStorage.removeItem(this.tokenKey);
        this.onLink(event.code === 4401 ? "revoked" : "forbidden");
        return;
      }
      this.reconnectLater();
    };
  }

  reconnectLater() {
    this.onLink("lost");
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.retry) * (0.75 + Math.random() / 2);
    this.retry = Math.min(this.retry + 1, 5);
    setTimeout(() => this.connect(), delay);
  }

  watchSilence() {  // a socket that neither speaks nor closes is given up
    if (this.socket === null || performance.now() - this.heardAt <= this.silentMs) return;
    const dead = this.socket;
    this.socket = null;
    this.connected = false;
    dead.onopen = null;
    dead.onclose = null;
    dead.onmessage = null;
    dead.close();
    this.reconnectLater();
  }
}
