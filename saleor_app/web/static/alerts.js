// The failure-alerts banner: jobs that died or whose outcome is unknown in the last 24 hours, shown above every
// tab. It refreshes every 60 s while the page is visible (and at once when it becomes visible again). Dismissing
// hides it until a newer failure comes: the newest failure dismissed is remembered for this tab (sessionStorage).
import { clear, h } from "./dom.js";

const REFRESH_MS = 60_000;
const REASON_CHARS = 160; // the banner stays two lines or so; the full reason is in its title and in Activity
const STORE_PREFIX = "order-automation:alerts-dismissed:";
let timer = null;
let watching = false;
let shownKey = "";

function storeKey(ctx) {
  return STORE_PREFIX + (ctx.api.saleorApiUrl || "");
}

/** The newest failure as "<at>|<id>": a job that dies again after a replay keeps its id but gets a newer time. */
function markOf(data) {
  const newest = (data.newest || [])[0];
  return newest ? `${newest.at}|${newest.job}` : "";
}

function isNewer(mark, dismissed) {
  if (!dismissed) return true;
  const [at, id] = mark.split("|");
  const [seenAt, seenId] = dismissed.split("|");
  const when = Date.parse(at);
  const seen = Date.parse(seenAt);
  return when > seen || (when === seen && Number(id) > Number(seenId));
}

function readDismissed(ctx) {
  try {
    return sessionStorage.getItem(storeKey(ctx)) || "";
  } catch {
    return ""; // storage blocked (a sandboxed frame without it): the banner simply stays dismissable per load
  }
}

function remember(ctx, mark) {
  try {
    sessionStorage.setItem(storeKey(ctx), mark);
  } catch {
    /* see readDismissed */
  }
}

function shorten(text, most) {
  const value = String(text || "");
  return value.length > most ? `${value.slice(0, most - 1).trimEnd()}…` : value;
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString([], { dateStyle: "short", timeStyle: "short" });
}

export async function refreshAlerts(ctx) {
  const box = document.getElementById("alerts");
  if (!box || ctx.mode) return;
  if (!watching) {
    watching = true;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) refreshAlerts(ctx).catch(() => {});
    });
  }
  clearTimeout(timer);
  timer = setTimeout(() => refreshAlerts(ctx).catch(() => {}), REFRESH_MS);
  if (document.hidden) return; // a hidden tab asks nothing; it refreshes when shown again
  render(ctx, box, await ctx.api.get("/alerts"));
}

function render(ctx, box, data) {
  const mark = markOf(data);
  box.dataset.checked = mark || "none"; // what the last refresh saw (also tells tests it has run)
  if (!data.total || !isNewer(mark, readDismissed(ctx))) {
    box.hidden = true;
    shownKey = "";
    return;
  }
  const key = `${mark}|${data.dead}|${data.unknown}|${data.digest && data.digest.failed ? data.digest.outcome : ""}`;
  box.hidden = false;
  if (key === shownKey) return; // unchanged: no re-announcement to screen readers
  shownKey = key;
  box.setAttribute("role", "status");
  box.className = `alerts ${data.dead ? "alerts-critical" : "alerts-warning"}`;
  const newest = data.newest[0];
  const order = newest.orderNumber ? `#${newest.orderNumber}` : "an order";
  const rule = newest.ruleName || newest.rule;
  const show = h("button", { type: "button", class: "button-secondary small alerts-show" }, "Show them");
  const dismiss = h("button", { type: "button", class: "icon-button alerts-dismiss", "aria-label": "Dismiss this alert",
    title: "Dismiss until a new failure" }, "×");
  show.addEventListener("click", () => ctx.show("activity", { state: "dead,unknown", since: data.since }));
  dismiss.addEventListener("click", () => {
    remember(ctx, mark);
    box.hidden = true;
    shownKey = "";
    const tab = document.querySelector('.tabs [aria-selected="true"]');
    if (tab) tab.focus();
  });
  const digest = data.digest && data.digest.failed
    ? h("p", { class: "alerts-detail" }, `The daily digest was ${data.digest.outcome}`) : null;
  clear(box, h("div", { class: "alerts-body" },
    h("span", { class: "alerts-icon", "aria-hidden": "true" }, "!"),
    h("div", { class: "alerts-text" },
      h("p", { class: "alerts-headline" }, `${data.headline}.`),
      h("p", { class: "alerts-detail", title: newest.reason },
        `Newest: ${order}, ${rule}, ${when(newest.at)} — ${shorten(newest.reason, REASON_CHARS)}`),
      digest),
    h("div", { class: "alerts-actions" }, show, dismiss)));
}
