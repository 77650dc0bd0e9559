// The Dashboard page: boots the bridge, loads the data after the handshake, switches views in place.
import { Api, ApiFailure } from "./api.js";
import { AppBridge, dashboardOrigin } from "./bridge.js";
import { renderActivity } from "./activity_view.js";
import { refreshAlerts } from "./alerts.js";
import { renderBoard } from "./board.js";
import { renderConfig } from "./config_view.js";
import { clear, h } from "./dom.js";
import { renderEventRules } from "./event_rules.js";
import { renderMovePopup } from "./move_popup.js";
import { renderOrderWidget } from "./order_widget.js";
import { renderProviders } from "./providers_view.js";
import { renderSettings } from "./settings_view.js";
import { renderSuppressions } from "./suppressions_view.js";
import { renderTasks } from "./tasks_view.js";
import { renderTeam } from "./team_view.js";
import { renderWorkflows } from "./workflows_view.js";

const VIEWS = {
  board: renderBoard, activity: renderActivity, tasks: renderTasks, events: renderEventRules,
  workflows: renderWorkflows, team: renderTeam, providers: renderProviders, suppressions: renderSuppressions,
  settings: renderSettings, config: renderConfig,
};
// The Dashboard's extension mounts open the same document at their own path: one view, no tabs.
const MODES = { "order-widget": renderOrderWidget, "move-to-stage": renderMovePopup };
const params = new URLSearchParams(location.search);
const root = document.documentElement;
const view = document.getElementById("view");
const tabs = document.querySelector(".tabs");
const banner = document.getElementById("banner");

function setTheme(theme) {
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
}

function bootMessage(title, text) {
  clear(view, h("section", { class: "empty-state", id: "boot-state" }, h("h1", {}, title), h("p", { id: "boot-message" }, text)));
}

/** The extension mount this document was opened for (…/app/order-widget, …/app/move-to-stage), if any. */
function modeFromPath(path) {
  return String(path || "").split("/").filter(Boolean).find((part) => part in MODES) || null;
}

/** The view named by the Dashboard's deep link (…/app/<view>, or a redirect event's path). */
function viewFromPath(path) {
  const parts = String(path || "").split(/[/?#]/).filter(Boolean);
  return [...parts].reverse().find((part) => part in VIEWS) || null;
}

function start() {
  setTheme(params.get("theme"));
  const origin = dashboardOrigin();
  const saleorApiUrl = params.get("saleorApiUrl");
  if (!origin || !saleorApiUrl) {
    bootMessage("Open this page from your Saleor Dashboard",
      "Order Automation is configured inside the Saleor Dashboard: open Extensions, then Order Automation.");
    return;
  }
  const bridge = new AppBridge(origin);
  const api = new Api(bridge, saleorApiUrl);
  const ctx = {
    api, bridge, catalogue: null, current: viewFromPath(location.pathname) || "board",
    mode: modeFromPath(location.pathname), orderId: params.get("orderId"),
    notify(status, title, text) { bridge.notify(status, title, text || ""); },
    banner(message, kind = "error") {
      banner.hidden = !message;
      banner.className = `banner banner-${kind}`;
      banner.textContent = message || "";
    },
    failed(error, title = "Could not save") {
      const message = error instanceof ApiFailure ? error.message : String(error);
      if (error instanceof ApiFailure && (error.status === 0 || error.status >= 500)) ctx.banner(message);
      else if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) ctx.banner(authMessage(error));
      ctx.notify("error", title, message);
    },
    /** Switch to a view; `options` go to its render function (e.g. the Activity view's filters). */
    show(name, options) { show(ctx, name, true, options); },
  };
  bridge.on("theme", (payload) => setTheme(payload.theme));
  bridge.on("redirect", (payload) => {
    const wanted = viewFromPath(payload.path);
    if (wanted && wanted !== ctx.current && ctx.catalogue) show(ctx, wanted, false);
  });
  let loaded = false;
  bridge.on("handshake", () => {
    if (!loaded) {
      loaded = true;
      load(ctx);
    }
  });
  for (const button of tabs.querySelectorAll("button")) {
    button.addEventListener("click", () => show(ctx, button.dataset.view, true));
  }
  bridge.start();
}

function authMessage(error) {
  if (error.status === 403) return `You cannot change order automation: ${error.message}. Ask a staff member with the Manage orders permission.`;
  return `The Dashboard's session was not accepted (${error.message}). Reload the Dashboard and open the app again.`;
}

async function load(ctx) {
  if (ctx.mode) {
    await loadMode(ctx);
    return;
  }
  bootMessage("Order Automation", "Loading your pipeline…");
  try {
    ctx.catalogue = await ctx.api.get("/editor/catalogue");
  } catch (error) {
    if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
      bootMessage(error.status === 403 ? "You need the Manage orders permission" : "Not signed in to this app",
        authMessage(error));
    } else {
      bootMessage("The app cannot be reached", `${error.message} Reload the page to try again.`);
    }
    return;
  }
  tabs.hidden = false;
  show(ctx, ctx.current, false);
  refreshAlerts(ctx).catch(() => {});
  // Whoever opens the app joins the team directory (rules can assign them tasks and notices); not blocking.
  ctx.api.post("/team/me").catch(() => {});
}

/** An extension mount (order widget, move-to-stage popup): one view of one order, without the board's catalogue. */
async function loadMode(ctx) {
  root.classList.add(`mode-${ctx.mode}`);
  if (!ctx.orderId) {
    bootMessage("No order", "The Dashboard did not say which order this is. Open it from an order's page.");
    return;
  }
  bootMessage("Order Automation", "Loading this order's automation…");
  try {
    await MODES[ctx.mode](ctx, view);
  } catch (error) {
    if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
      bootMessage(error.status === 403 ? "You need the Manage orders permission" : "Not signed in to this app",
        authMessage(error));
    } else {
      bootMessage(error instanceof ApiFailure && error.status === 404 ? "Not known yet" : "Could not load",
        error.message || String(error));
    }
  }
}

async function show(ctx, name, route, options) {
  ctx.current = name in VIEWS ? name : "board";
  for (const button of tabs.querySelectorAll("button")) {
    const active = button.dataset.view === ctx.current;
    button.setAttribute("aria-selected", String(active));
    button.tabIndex = active ? 0 : -1;
  }
  if (route) ctx.bridge.updateRouting(`/${ctx.current}`);
  ctx.banner(null);
  try {
    await (options === undefined ? VIEWS[ctx.current](ctx, view) : VIEWS[ctx.current](ctx, view, options));
  } catch (error) {
    ctx.failed(error, "Could not load");
    if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) bootMessage("Not allowed", authMessage(error));
  }
}

start();
