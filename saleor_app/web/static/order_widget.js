// The order widget (ORDER_DETAILS_WIDGETS, WIDGET target): this order's stage, pending jobs and why they wait,
// run a rule now, move to stage (preview first), a dry run, the stage history and the timeline. It lives in a
// narrow iframe with no scrollbar of its own: the Dashboard sizes the frame to the height it reports.
import { ApiFailure } from "./api.js";
import { clear, h } from "./dom.js";

const TIMELINE_SHOWN = 8;
const TONES = 6;
const POLL_MS = 5000; // while the order page is open and visible, webhooks and jobs change what the widget shows
let watched = null;

/** Report the content's height to the Dashboard whenever it changes (widgetResize). */
export function watchHeight(bridge, element) {
  if (watched === element || typeof ResizeObserver === "undefined") return;
  watched = element;
  let last = -1;
  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => {
      const height = Math.ceil(element.getBoundingClientRect().height);
      if (height !== last) {
        last = height;
        bridge.widgetResize(height);
      }
    });
  }).observe(element);
}

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** A stage's colour pill: the tone follows the stage's place in the pipeline. */
export function stagePill(stages, key, name) {
  const index = Math.max(0, stages.findIndex((stage) => stage.key === key));
  return h("span", { class: `stage-pill tone-${index % TONES}`, dataset: { stage: key } }, name || key);
}

export function orderPath(ctx, suffix) {
  return `/orders/${encodeURIComponent(ctx.orderId)}${suffix}`;
}

export function stageSelect(id, stages, skip) {
  return h("select", { id },
    stages.filter((stage) => stage.key !== skip).map((stage) => h("option", { value: stage.key }, stage.name)));
}

export async function renderOrderWidget(ctx, view) {
  watchHeight(ctx.bridge, document.getElementById("app"));
  const status = h("p", { class: "w-status", id: "w-status", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "w-body" });
  const say = (message, kind = "info") => {
    status.textContent = message || "";
    status.className = `w-status w-status-${kind}`;
  };
  let shown = null; // the data drawn last
  const reload = async () => {
    let data;
    try {
      data = await ctx.api.get(orderPath(ctx, "/automation"));
    } catch (error) {
      if (!(error instanceof ApiFailure) || error.status !== 404) throw error;
      shown = null;
      clear(body, h("div", { class: "empty-box", id: "w-missing" }, error.message),
        h("button", { type: "button", class: "button-secondary small", onclick: () => reload().catch(fail) }, "Try again"));
      return;
    }
    shown = data;
    draw(ctx, body, data, { say, reload, fail });
  };
  const fail = (error) => say(error.message || String(error), "error");
  const widget = h("section", { class: "widget", "aria-labelledby": "w-title" },
    h("header", { class: "w-head" },
      h("h1", { id: "w-title", tabindex: "-1" }, "Automation"),
      h("button", { type: "button", class: "link small", id: "open-board", onclick: () => openBoard(ctx) }, "Open automation")),
    status, body);
  clear(view, widget);
  await reload();
  follow(ctx, widget, body, () => shown, (data) => {
    // A new stage changes the rules to run and what a move would do; a dry run the user asked for stays.
    const ids = stageKey(shown) !== stageKey(data) ? [...PASSIVE, "w-rules", "w-move"] : PASSIVE;
    shown = data;
    redraw(ctx, body, data, { say, reload, fail }, ids);
  }, fail);
}

const PASSIVE = ["w-stage", "w-pending", "w-history", "w-timeline"]; // what follows the order without touching forms

function stageKey(data) {
  return data.stage ? data.stage.key : null;
}

/** Poll the order's automation while the widget is on screen; a change redraws it, a refused token stops it. */
function follow(ctx, widget, body, current, apply, fail) {
  const timer = setInterval(async () => {
    if (!widget.isConnected) {
      clearInterval(timer);
      return;
    }
    if (document.hidden || !current()) return; // hidden: nobody looks; no order drawn: "Try again" is there
    let data;
    try {
      data = await ctx.api.get(orderPath(ctx, "/automation"));
    } catch (error) {
      if (error instanceof ApiFailure && (error.status === 401 || error.status === 403)) {
        clearInterval(timer);
        fail(error);
      }
      return; // the app or the network is away for a moment: the next poll tries again
    }
    if (!widget.isConnected || JSON.stringify(data) === JSON.stringify(current())) return;
    apply(data);
  }, POLL_MS);
}

/** Replace only these sections of the widget with freshly drawn ones. */
function redraw(ctx, body, data, tools, ids) {
  const fresh = h("div", {});
  draw(ctx, fresh, data, tools);
  for (const id of ids) {
    const old = body.querySelector(`#${id}`);
    const replacement = fresh.querySelector(`#${id}`);
    if (old && replacement) old.replaceWith(replacement);
  }
}

function openBoard(ctx) {
  const appId = new URLSearchParams(location.search).get("id") || "";
  ctx.bridge.redirect(`/extensions/app/${encodeURIComponent(appId)}/board`);
}

function draw(ctx, body, data, tools) {
  const stages = data.stages;
  clear(body,
    h("div", { class: "w-stage", id: "w-stage" },
      data.stage ? [stagePill(stages, data.stage.key, data.stage.name),
        h("span", { class: "muted small" }, `since ${when(data.stage.since)}`)]
        : h("span", { class: "muted" }, "Not in any stage yet."),
      data.order.movingTo ? h("p", { class: "badge badge-warning" }, `Moving to ${data.order.movingTo}: Saleor is being updated`) : null),
    section("w-pending", "Pending", pendingList(data)),
    section("w-rules", "Run a rule now", rulesList(ctx, data, tools)),
    section("w-move", "Move to stage", moveForm(ctx, data, tools)),
    section("w-dry", "Dry run", dryRunForm(ctx, data)),
    section("w-history", "Stage history", historyList(data)),
    section("w-timeline", "Timeline", timelineList(data)));
}

function section(id, title, ...content) {
  return h("section", { class: "w-section", id, "aria-labelledby": `${id}-h` }, h("h2", { id: `${id}-h` }, title), content);
}

function pendingList(data) {
  if (!data.pending.length) return h("p", { class: "empty-box" }, "Nothing pending for this order.");
  return h("ul", { class: "w-list" }, data.pending.map((job) => h("li", { class: "w-item", dataset: { job: job.id } },
    h("div", { class: "w-line" }, h("span", { class: "w-name" }, job.rule), h("span", { class: `w-state state-${job.state}` }, job.state)),
    h("p", { class: "w-why" }, job.why))));
}

function rulesList(ctx, data, tools) {
  if (!data.rules.length) return h("p", { class: "empty-box" }, "No enabled rules in this stage.");
  return h("ul", { class: "w-list" }, data.rules.map((rule) => h("li", { class: "w-item w-line", dataset: { rule: rule.key } },
    h("span", { class: "w-name" }, rule.name, h("span", { class: "kind" }, ` ${rule.kind}`)),
    h("button", {
      type: "button", class: "button-secondary small", "aria-label": `Run ${rule.name} now`,
      onclick: async (event) => {
        event.currentTarget.disabled = true;
        try {
          const job = await ctx.api.post(orderPath(ctx, `/rules/${encodeURIComponent(rule.key)}/run`));
          tools.say(`${rule.name} runs now (job ${job.job}).`, "success");
          await ctx.bridge.refreshEntity();
          await tools.reload();
        } catch (error) {
          tools.fail(error);
          event.target.disabled = false;
        }
      },
    }, "Run now"))));
}

function moveForm(ctx, data, tools) {
  const current = data.stage ? data.stage.key : null;
  const select = stageSelect("w-move-stage", data.stages, current);
  const preview = h("div", { class: "w-preview", id: "w-move-preview", "aria-live": "polite" });
  const show = async () => {
    clear(preview, h("p", { class: "muted small" }, "Asking Saleor…"));
    let answer;
    try {
      answer = await ctx.api.get(orderPath(ctx, `/move?stage=${encodeURIComponent(select.value)}`));
    } catch (error) {
      clear(preview, h("p", { class: "form-error", role: "alert" }, error.message));
      return;
    }
    const confirm = h("button", { type: "button", class: "button-primary small", id: "w-move-confirm", disabled: !answer.possible,
      onclick: async () => {
        confirm.disabled = true;
        try {
          const result = await ctx.api.post(orderPath(ctx, "/move"), { stage: answer.stage });
          tools.say(result.state === "succeeded" ? `Moved: ${result.message.replace(/^succeeded: /, "")}`
            : `Saleor did not answer; the app keeps trying (${result.message}).`, result.state === "succeeded" ? "success" : "warning");
          await ctx.bridge.refreshEntity();
          await tools.reload();
          document.getElementById("w-title").focus();
        } catch (error) {
          clear(preview, h("p", { class: "form-error", role: "alert" }, error.message));
        }
      } }, `Move to ${answer.name}`);
    clear(preview,
      h("p", { class: answer.possible ? "w-would" : "form-error" }, capital(answer.wouldDo)),
      answer.rules.length ? h("p", { class: "muted small" }, `Then its rules run: ${answer.rules.join(", ")}.`) : null,
      h("div", { class: "row" }, confirm,
        h("button", { type: "button", class: "button-tertiary small", onclick: () => clear(preview) }, "Cancel")));
  };
  select.addEventListener("change", () => clear(preview));
  return [h("div", { class: "row" }, h("label", { for: "w-move-stage", class: "visually-hidden" }, "Stage to move to"), select,
    h("button", { type: "button", class: "button-secondary small", id: "w-move-preview-button", onclick: show }, "Preview")), preview];
}

function dryRunForm(ctx, data) {
  const select = stageSelect("w-dry-stage", data.stages, null);
  if (data.stage) select.value = data.stage.key;
  const results = h("div", { class: "w-dry-results", id: "w-dry-results", "aria-live": "polite" });
  const run = async () => {
    clear(results, h("p", { class: "muted small" }, "Rehearsing…"));
    try {
      const answer = await ctx.api.get(orderPath(ctx, `/dry-run?stage=${encodeURIComponent(select.value)}`));
      clear(results, answer.rules.length ? h("ul", { class: "w-list" }, answer.rules.map((rule) => h("li", {
        class: `w-item ${rule.runs ? "" : "w-skip"}`, dataset: { rule: rule.rule } },
      h("div", { class: "w-line" }, h("span", { class: "w-name" }, rule.name), h("span", { class: "muted small" }, rule.when)),
      rule.condition ? h("p", { class: "w-why" }, `Condition ${rule.condition}`) : null,
      h("p", { class: "w-outcome" }, capital(rule.outcome)))))
        : h("p", { class: "empty-box" }, "This stage has no rules."));
    } catch (error) {
      clear(results, h("p", { class: "form-error", role: "alert" }, error.message));
    }
  };
  return [h("div", { class: "row" }, h("label", { for: "w-dry-stage", class: "visually-hidden" }, "Stage to rehearse"), select,
    h("button", { type: "button", class: "button-secondary small", id: "w-dry-button", onclick: run }, "Dry run")), results];
}

function historyList(data) {
  if (!data.history.length) return h("p", { class: "empty-box" }, "No stage yet.");
  return h("ol", { class: "w-list w-history" }, data.history.map((item) => h("li", { class: "w-item" },
    h("div", { class: "w-line" }, stagePill(data.stages, item.stage, item.name),
      h("span", { class: "muted small" }, `${when(item.enteredAt)}${item.leftAt ? ` – ${when(item.leftAt)}` : " – now"}`)),
    h("p", { class: "w-why" }, item.adopted ? `${item.reason} (adopted: its rules did not run)` : item.reason))));
}

function timelineList(data) {
  if (!data.timeline.length) return h("p", { class: "empty-box" }, "Nothing happened yet.");
  const items = data.timeline.map((entry, index) => h("li", { class: `w-event kind-${entry.kind}`, hidden: index >= TIMELINE_SHOWN },
    h("time", { datetime: entry.at, class: "muted small" }, when(entry.at)),
    h("span", { class: "w-message" }, entry.message)));
  const list = h("ol", { class: "w-list w-timeline", id: "w-timeline-list" }, items);
  const more = data.timeline.length > TIMELINE_SHOWN ? h("button", {
    type: "button", class: "link small", "aria-expanded": "false", "aria-controls": "w-timeline-list",
    onclick: (event) => {
      const open = event.currentTarget.getAttribute("aria-expanded") !== "true";
      items.forEach((item, index) => { item.hidden = !open && index >= TIMELINE_SHOWN; });
      event.currentTarget.setAttribute("aria-expanded", String(open));
      event.currentTarget.textContent = open ? "Show fewer" : `Show all ${items.length}`;
    } }, `Show all ${items.length}`) : null;
  return [list, more];
}

export function capital(text) {
  const value = String(text || "");
  return value.charAt(0).toUpperCase() + value.slice(1);
}
