// AppBridge, the Dashboard's side channel (PLATFORM.md §7.2), in plain JS.
// Events are accepted only from the parent window at the Dashboard's origin (the referrer's); actions carry an
// actionId (the Dashboard ignores them otherwise) and are posted to that origin only.

const EVENTS = new Set(["handshake", "tokenRefresh", "theme", "localeChanged", "redirect", "response"]);
const ACTION_TIMEOUT_MS = 5000;

function newActionId() {
  if (globalThis.crypto && crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function dashboardOrigin() {
  if (window.parent === window || !document.referrer) return null;
  try {
    return new URL(document.referrer).origin;
  } catch {
    return null;
  }
}

export class AppBridge {
  constructor(origin) {
    this.origin = origin;
    this.token = null;
    this.handlers = {};
    this.pending = new Map();
    this.onMessage = this.onMessage.bind(this);
  }

  on(type, handler) {
    (this.handlers[type] ||= []).push(handler);
  }

  start() {
    window.addEventListener("message", this.onMessage);
    // The load-time handshake may have come before this script ran: say we listen, the Dashboard answers.
    this.dispatch("notifyReady", {});
  }

  onMessage(event) {
    if (event.source !== window.parent || event.origin !== this.origin) return;
    const data = event.data;
    if (!data || typeof data !== "object" || !EVENTS.has(data.type)) return;
    const payload = data.payload && typeof data.payload === "object" ? data.payload : {};
    if (data.type === "response") {
      const waiting = this.pending.get(payload.actionId);
      if (waiting) {
        this.pending.delete(payload.actionId);
        waiting(Boolean(payload.ok));
      }
      return;
    }
    if ((data.type === "handshake" || data.type === "tokenRefresh")) {
      if (typeof payload.token !== "string" || !payload.token) return;
      this.token = payload.token;
    }
    for (const handler of this.handlers[data.type] || []) handler(payload);
  }

  dispatch(type, payload) {
    const actionId = newActionId();
    const answered = new Promise((resolve) => {
      this.pending.set(actionId, resolve);
      setTimeout(() => {
        if (this.pending.delete(actionId)) resolve(false);
      }, ACTION_TIMEOUT_MS);
    });
    window.parent.postMessage({ type, payload: { ...payload, actionId } }, this.origin);
    return answered;
  }

  notify(status, title, text) {
    return this.dispatch("notification", { status, title, text });
  }

  updateRouting(newRoute) {
    return this.dispatch("updateRouting", { newRoute });
  }

  /** A WIDGET iframe has no scrollbar of its own: the Dashboard sizes it to this height (Dashboard 3.23.7+). */
  widgetResize(height) {
    return this.dispatch("widgetResize", { height });
  }

  /** The Dashboard re-reads the order (or product) it shows, after the app changed it (Dashboard 3.23.9+). */
  refreshEntity() {
    return this.dispatch("refreshEntity", {});
  }

  /** Closes the POPUP extension this page is shown in (3.22.31+). */
  popupClose() {
    return this.dispatch("popupClose", {});
  }

  /** Navigates the Dashboard: `to` is a Dashboard path (/orders/…, /extensions/app/<id>/…) or an absolute URL. */
  redirect(to, newContext = false) {
    return this.dispatch("redirect", newContext ? { to, newContext: true } : { to });
  }
}
