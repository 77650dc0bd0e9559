// The Activity view: the store-wide log of jobs, trigger firings and stage moves, newest first, with its filters
// kept in the Dashboard's route (a reload, or the alerts banner's link, lands on the same filtered log).
// Failed, dead and unknown jobs are replayed after a preview; an unknown send is resolved as sent or not sent.
// It updates itself while shown by polling `after` the log's newest id: EventSource cannot carry the Dashboard
// token (it travels in a header). Each entry brings its job's state now, and a poll brings the state of every job
// mentioned since, so rows already on screen change with their job.
import { ApiFailure } from "./api.js";
import { clear, debounce, h } from "./dom.js";

const POLL_MS = 4000;
const PAGE = 50;
export const JOB_STATES = ["scheduled", "waiting", "running", "retrying", "succeeded", "skipped", "failed", "dead",
  "unknown", "cancelled"];
const RANGES = [["1h", "Last hour", 3600e3], ["24h", "Last 24 hours", 86400e3], ["7d", "Last 7 days", 7 * 86400e3],
  ["30d", "Last 30 days", 30 * 86400e3]];
const FILTERS = ["stage", "rule", "trigger", "state", "since", "until", "order"];
const KIND_LABELS = { stage: "Stage move", trigger: "Trigger", adopted: "Adopted", order: "Order", message: "Message",
  task: "Task", settings: "Settings", backfill: "Backfill" };
const CHANNELS = { email: "Email", sms: "SMS", call: "Call" };
let routeRead = false; // the iframe's own query (the Dashboard's route) is read once, on the first render

/**
 * Render the log. `options` are initial filters ({state: "dead,unknown" or ["dead"], since: "24h" or an ISO time,
 * until, stage, rule, trigger, order}); without them the Dashboard route's query is used, on first render.
 */
export async function renderActivity(ctx, view, options) {
  const filters = initialFilters(options);
  const [board, triggers] = await Promise.all([ctx.api.get("/board"), ctx.api.get("/triggers")]);
  const names = namesOf(ctx, board, triggers);
  const state = { filters, cursor: 0, oldest: null, timer: null, busy: false };
  const live = h("p", { class: "activity-live muted small", id: "activity-live" });
  const list = h("ol", { class: "activity-list", id: "activity-list", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Activity, newest first" });
  const note = h("div", { class: "activity-note" });
  const older = h("button", { type: "button", class: "button-secondary", hidden: true }, "Load older");
  const dialog = h("dialog", { class: "activity-dialog", "aria-modal": "true" });
  const root = h("section", { class: "activity", "aria-labelledby": "activity-title" });

  const rowOf = (entry) => activityRow(ctx, entry, names, { replay: (button) => openReplay(ctx, dialog, entry, button, refreshJob),
    resolve: (button) => openResolve(ctx, dialog, entry, button, refreshJob) });
  const refreshJob = (change) => {
    for (const row of list.querySelectorAll(`[data-job="${change.job}"]`)) updateJob(row, change);
    poll(0);
  };

  async function load() {
    stopPolling();
    list.setAttribute("aria-busy", "true"); // the first page is not "news"
    clear(note);
    let page;
    try {
      page = await ctx.api.get(`/activity?${apiQuery(state.filters, { limit: PAGE })}`);
    } catch (error) {
      list.replaceChildren();
      older.hidden = true;
      list.removeAttribute("aria-busy");
      if (error instanceof ApiFailure && (error.code === "unknown_order" || error.code === "invalid_state" || error.status === 422)) {
        clear(note, h("div", { class: "empty-box", role: "alert" }, error.message));
        return;
      }
      throw error;
    }
    list.replaceChildren(...page.entries.map(rowOf));
    state.cursor = Math.max(page.newest || 0, ...page.entries.map((entry) => entry.id));
    state.oldest = page.next;
    older.hidden = !page.next;
    if (!page.entries.length) {
      clear(note, h("div", { class: "empty-box" }, hasFilters(state.filters)
        ? "Nothing matches these filters. New entries will appear here as they happen."
        : "Nothing has happened yet. Jobs, trigger firings and stage moves appear here as orders move."));
    }
    list.removeAttribute("aria-busy");
    stamp();
    poll(POLL_MS);
  }

  function stamp(problem) {
    live.textContent = problem ? `Live updates paused: ${problem}` : `Live · updated ${new Date().toLocaleTimeString()}`;
    live.classList.toggle("activity-live-off", Boolean(problem));
  }

  function stopPolling() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  function poll(delay) {
    stopPolling();
    state.timer = setTimeout(tick, delay);
  }

  async function tick() {
    if (!root.isConnected) return stopPolling(); // another view took the page: stop for good
    if (document.hidden || state.busy) return poll(POLL_MS); // a hidden tab costs nothing; resume when shown
    state.busy = true;
    try {
      const page = await ctx.api.get(`/activity?${apiQuery(state.filters, { after: state.cursor, limit: PAGE })}`);
      if (!root.isConnected) return undefined;
      const fresh = page.entries.filter((entry) => !list.querySelector(`[data-entry="${entry.id}"]`));
      if (fresh.length) {
        note.replaceChildren();
        list.prepend(...fresh.map(rowOf)); // newest first, above what was shown
      }
      for (const change of page.changed || []) {
        for (const row of list.querySelectorAll(`[data-job="${change.job}"]`)) updateJob(row, change);
      }
      const last = page.entries.length ? page.entries[0].id : 0;
      state.cursor = page.more ? Math.max(state.cursor, last) : Math.max(state.cursor, page.newest || 0, last);
      stamp();
      poll(page.more ? 0 : POLL_MS);
    } catch (error) {
      const denied = error instanceof ApiFailure && (error.status === 401 || error.status === 403);
      stamp(error.message);
      if (denied) ctx.failed(error, "Live updates stopped");
      else poll(POLL_MS * 2);
    } finally {
      state.busy = false;
    }
    return undefined;
  }

  older.addEventListener("click", async () => {
    older.disabled = true;
    list.setAttribute("aria-busy", "true");
    try {
      const page = await ctx.api.get(`/activity?${apiQuery(state.filters, { before: state.oldest, limit: PAGE })}`);
      list.append(...page.entries.map(rowOf));
      state.oldest = page.next;
      older.hidden = !page.next;
      const first = list.querySelector(`[data-entry="${page.entries.length ? page.entries[0].id : ""}"] .activity-what`);
      if (first) first.focus();
    } catch (error) {
      ctx.failed(error, "Could not load older entries");
    } finally {
      older.disabled = false;
      list.removeAttribute("aria-busy");
    }
  });

  const form = filterForm(ctx, board, triggers, names, state.filters, (changed) => {
    state.filters = changed;
    ctx.bridge.updateRouting(routeOf(changed));
    load().catch((error) => ctx.failed(error, "Could not load"));
  });
  clear(view, clear(root,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", { id: "activity-title" }, "Activity"),
        h("p", { class: "muted" }, "What automation did for each order, and why. Replay what failed; settle sends whose outcome is unknown.")),
      live),
    form, note, list, h("div", { class: "activity-more" }, older), dialog));
  if (hasFilters(state.filters)) ctx.bridge.updateRouting(routeOf(state.filters));
  await load();
}

// ------------------------------------------------------------------------------------------------ filters

function initialFilters(options) {
  let source = options;
  if (!source && !routeRead) {
    const query = new URLSearchParams(location.search);
    source = Object.fromEntries(FILTERS.filter((key) => query.get(key)).map((key) => [key, query.get(key)]));
  }
  routeRead = true;
  const given = source || {};
  const states = Array.isArray(given.state) ? given.state : String(given.state || "").split(",");
  return {
    stage: given.stage || "", rule: given.rule || "", trigger: given.trigger || "",
    states: states.map((s) => s.trim().toLowerCase()).filter((s) => JOB_STATES.includes(s)),
    since: given.since || "", until: given.until || "", order: String(given.order || "").replace(/^#/, ""),
  };
}

function hasFilters(filters) {
  return Boolean(filters.stage || filters.rule || filters.trigger || filters.states.length || filters.since || filters.until || filters.order);
}

/** The filters as they stand in the Dashboard's route: relative ranges stay relative ("since=24h"). */
function routeQuery(filters) {
  const query = new URLSearchParams();
  for (const key of ["stage", "rule", "trigger"]) if (filters[key]) query.set(key, filters[key]);
  if (filters.states.length) query.set("state", filters.states.join(","));
  if (filters.since) query.set("since", filters.since);
  if (filters.until) query.set("until", filters.until);
  if (filters.order) query.set("order", filters.order);
  return query;
}

function routeOf(filters) {
  const query = routeQuery(filters).toString();
  return query ? `/activity?${query}` : "/activity";
}

function sinceTime(since) {
  const range = RANGES.find(([key]) => key === since);
  if (range) return new Date(Date.now() - range[2]).toISOString();
  const parsed = new Date(since);
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
}

function apiQuery(filters, extra) {
  const query = routeQuery(filters);
  if (filters.since) {
    const since = sinceTime(filters.since);
    if (since) query.set("since", since);
    else query.delete("since");
  }
  if (filters.until && Number.isNaN(new Date(filters.until).getTime())) query.delete("until");
  for (const [key, value] of Object.entries(extra)) if (value !== null && value !== undefined) query.set(key, value);
  return query.toString();
}

function namesOf(ctx, board, triggers) {
  const rules = new Map();
  for (const stage of board.stages) for (const rule of stage.rules) rules.set(rule.key, rule.name);
  for (const rule of board.eventRules || []) rules.set(rule.key, rule.name);
  return {
    stages: new Map(board.stages.map((stage) => [stage.key, stage.name])),
    rules,
    triggers: new Map(triggers.map((trigger) => [trigger.key, trigger.name || trigger.key])),
    kinds: new Map(((ctx.catalogue && ctx.catalogue.kinds) || []).map((kind) => [kind.name, kind.label])),
  };
}

function select(label, id, options, value) {
  const known = options.some(([key]) => key === value);
  const control = h("select", { id },
    h("option", { value: "" }, `Any ${label.toLowerCase()}`),
    options.map(([key, name, group]) => (group ? null : h("option", { value: key }, name))),
    [...new Set(options.filter(([, , group]) => group).map(([, , group]) => group))].map((group) => h("optgroup", { label: group },
      options.filter(([, , g]) => g === group).map(([key, name]) => h("option", { value: key }, name)))),
    value && !known ? h("option", { value }, value) : null);
  control.value = value || "";
  return h("div", { class: "activity-filter" }, h("label", { for: id }, label), control);
}

function filterForm(ctx, board, triggers, names, filters, changed) {
  const rules = [];
  for (const stage of board.stages) for (const rule of stage.rules) rules.push([rule.key, rule.name, stage.name]);
  for (const rule of board.eventRules || []) rules.push([rule.key, rule.name, "Event rules"]);
  const stage = select("Stage", "activity-stage", board.stages.map((s) => [s.key, s.name]), filters.stage);
  const rule = select("Rule", "activity-rule", rules, filters.rule);
  const trigger = select("Trigger", "activity-trigger", triggers.map((t) => [t.key, t.name || t.key]), filters.trigger);
  const stateSummary = h("summary", { class: "activity-states-summary", id: "activity-states-summary",
    "aria-labelledby": "activity-state-label activity-states-summary" });
  const boxes = JOB_STATES.map((value) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "state", value, checked: filters.states.includes(value) }), value));
  const states = h("div", { class: "activity-filter" }, h("span", { class: "label", id: "activity-state-label" }, "State"),
    h("details", { class: "menu activity-states" }, stateSummary,
      h("fieldset", { class: "menu-body activity-states-body" },
        h("legend", { class: "visually-hidden" }, "Job states"), boxes)));
  const ranges = [...RANGES.map(([key, label]) => [key, label])];
  if (filters.since && !RANGES.some(([key]) => key === filters.since)) {
    const since = sinceTime(filters.since);
    ranges.push([filters.since, since ? `Since ${new Date(since).toLocaleString()}` : filters.since]);
  }
  const time = select("Time", "activity-time", ranges, filters.since);
  time.querySelector("option").textContent = "Any time";
  const order = h("input", { type: "search", id: "activity-order", inputmode: "numeric", placeholder: "e.g. 1042", value: filters.order, autocomplete: "off" });
  const orderBox = h("div", { class: "activity-filter activity-filter-order" }, h("label", { for: "activity-order" }, "Order number"), order);
  const reset = h("button", { type: "button", class: "button-tertiary activity-clear" }, "Clear filters");
  const read = () => ({
    stage: stage.querySelector("select").value, rule: rule.querySelector("select").value,
    trigger: trigger.querySelector("select").value,
    states: boxes.map((box) => box.querySelector("input")).filter((box) => box.checked).map((box) => box.value),
    since: time.querySelector("select").value, until: filters.until, order: order.value.trim().replace(/^#/, ""),
  });
  const summarise = () => {
    const chosen = read().states;
    stateSummary.textContent = chosen.length ? chosen.join(", ") : "Any state";
    reset.hidden = !hasFilters(read());
  };
  const apply = () => {
    summarise();
    filters = read();
    changed(filters);
  };
  const form = h("form", { class: "activity-filters", role: "search", "aria-label": "Filter the activity log" },
    stage, rule, trigger, states, time, orderBox, reset);
  for (const control of form.querySelectorAll("select, input[type=checkbox]")) control.addEventListener("change", apply);
  const typed = debounce(() => { if (order.value.trim().replace(/^#/, "") !== filters.order) apply(); }, 600);
  order.addEventListener("input", typed);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  reset.addEventListener("click", () => {
    for (const control of form.querySelectorAll("select")) control.value = "";
    for (const box of form.querySelectorAll("input[type=checkbox]")) box.checked = false;
    order.value = "";
    filters = { ...read(), until: "" };
    summarise();
    changed(filters);
    stage.querySelector("select").focus();
  });
  summarise();
  return form;
}

// ------------------------------------------------------------------------------------------------ rows

function when(iso) {
  const at = new Date(iso);
  const today = new Date().toDateString() === at.toDateString();
  return today ? at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : at.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function pill(state, extra = "") {
  return h("span", { class: `state-pill state-${state} ${extra}`.trim() }, state);
}

function whatHappened(entry, names) {
  if (entry.kind === "job") {
    if (entry.rule && entry.rule.startsWith("trigger:")) {
      const key = entry.rule.slice("trigger:".length);
      return `Move by trigger ${names.triggers.get(key) || key}`;
    }
    const kind = entry.jobKind ? names.kinds.get(entry.jobKind) || entry.jobKind : null;
    return [names.rules.get(entry.rule) || entry.rule || "Job", kind].filter(Boolean).join(" · ");
  }
  if (entry.kind === "trigger" && entry.trigger) return `Trigger ${names.triggers.get(entry.trigger) || entry.trigger}`;
  if (entry.kind === "stage" && entry.stage) return `Stage ${names.stages.get(entry.stage) || entry.stage}`;
  if (entry.kind === "message" && entry.rule) return `Message · ${names.rules.get(entry.rule) || entry.rule}`;
  return KIND_LABELS[entry.kind] || entry.kind;
}

function deliveryDetail(entry) {
  const d = entry.delivery;
  if (!d) return null;
  const channel = CHANNELS[d.channel] || d.channel;
  const items = [["Channel", channel], ["From", d.sender], ["To", d.recipient], ["Provider id", d.providerId],
    ["Status", d.state + (d.reason ? `: ${d.reason}` : "")],
    ["Last event", d.lastEvent ? `${d.lastEvent}${d.lastEventAt ? ` (${when(d.lastEventAt)})` : ""}` : null]];
  return h("details", { class: "activity-detail" },
    h("summary", {}, `${channel} to ${d.recipient} · ${d.state}`),
    h("dl", { class: "activity-facts" }, items.filter(([, value]) => value).map(([label, value]) => [
      h("dt", {}, label), h("dd", {}, label === "Provider id" ? h("code", {}, value) : value)])),
    d.excerpt ? h("div", {}, h("p", { class: "preview-label" }, "Message"), h("p", { class: "preview-text activity-excerpt" }, d.excerpt)) : null);
}

function activityRow(ctx, entry, names, act) {
  const order = entry.order && entry.orderNumber
    ? h("button", { type: "button", class: "link activity-order", "aria-label": `Open order #${entry.orderNumber} in the Dashboard`,
      onclick: () => ctx.bridge.dispatch("redirect", { to: `/orders/${encodeURIComponent(entry.order)}` }) }, `#${entry.orderNumber}`)
    : null;
  const row = h("li", { class: "activity-row", dataset: { entry: entry.id, job: entry.job ?? "", kind: entry.kind, state: entry.state || "" } },
    h("div", { class: "activity-head" },
      h("time", { datetime: entry.at, title: new Date(entry.at).toLocaleString() }, when(entry.at)),
      order,
      h("span", { class: "activity-what", tabindex: "-1" }, whatHappened(entry, names)),
      h("span", { class: "spacer" }),
      entry.state ? pill(entry.state) : h("span", { class: "state-pill state-note" }, "note")),
    h("p", { class: "activity-reason" }, entry.reason),
    h("p", { class: "activity-now", hidden: true }),
    deliveryDetail(entry),
    h("div", { class: "activity-actions" }));
  row.act = act;
  if (entry.job) updateJob(row, { job: entry.job, state: entry.jobState, reason: entry.jobReason, actions: entry.actions });
  return row;
}

/** Show the job's state now (when it moved on since the line was written) and what can be done about it. */
function updateJob(row, change) {
  const now = row.querySelector(".activity-now");
  const moved = change.state && change.state !== row.dataset.state;
  now.hidden = !moved;
  if (moved) clear(now, "Now ", pill(change.state, "state-pill-small"), change.reason ? ` ${change.reason}` : "");
  row.dataset.jobState = change.state || "";
  const actions = row.querySelector(".activity-actions");
  const allowed = moved ? [] : change.actions || []; // the buttons go on the line that tells the job's state now
  // The same buttons stay the same elements: a dialog opened from one gives focus back to it when it closes.
  if (actions.dataset.allowed === allowed.join(" ")) return;
  actions.dataset.allowed = allowed.join(" ");
  clear(actions,
    allowed.includes("replay") ? h("button", { type: "button", class: "button-secondary small", "aria-haspopup": "dialog",
      onclick: (event) => row.act.replay(event.currentTarget) }, "Replay…") : null,
    allowed.includes("resolve") ? h("button", { type: "button", class: "button-secondary small", "aria-haspopup": "dialog",
      onclick: (event) => row.act.resolve(event.currentTarget) }, "Resolve…") : null);
}

// ------------------------------------------------------------------------------------------------ dialogs

function openDialog(dialog, returnTo, ...content) {
  clear(dialog, ...content);
  const row = returnTo && returnTo.closest("[data-entry]");
  dialog.onclose = () => {
    // The button may have gone while the dialog was open (the job moved on): its line takes the focus instead.
    const target = returnTo && returnTo.isConnected ? returnTo : row && row.isConnected ? row.querySelector(".activity-what") : null;
    if (target) target.focus();
  };
  try {
    dialog.showModal();
  } catch {
    dialog.show(); // a frame that refuses modal dialogs still gets the panel
  }
  const first = dialog.querySelector("[autofocus]") || dialog.querySelector("button");
  if (first) first.focus();
}

function dialogHead(id, title, dialog) {
  return h("div", { class: "activity-dialog-head" }, h("h2", { id }, title),
    h("button", { type: "button", class: "icon-button", "aria-label": "Close", onclick: () => dialog.close() }, "×"));
}

async function openReplay(ctx, dialog, entry, button, done) {
  button.disabled = true;
  let preview;
  try {
    preview = await ctx.api.get(`/jobs/${entry.job}/replay`);
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiFailure && error.status === 409) {
      openDialog(dialog, button, dialogHead("replay-title", "This job cannot be replayed", dialog),
        h("p", { class: "form-error", role: "alert" }, error.message),
        h("div", { class: "activity-dialog-actions" }, h("button", { type: "button", class: "button-secondary", onclick: () => dialog.close() }, "Close")));
      dialog.setAttribute("aria-labelledby", "replay-title");
      return;
    }
    ctx.failed(error, "Could not preview the replay");
    return;
  }
  button.disabled = false;
  const plan = preview.wouldDo;
  const error = h("p", { class: "form-error", role: "alert" });
  const confirm = h("button", { type: "button", class: "button-primary", autofocus: true }, "Replay now");
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      const replayed = await ctx.api.post(`/jobs/${entry.job}/replay`);
      dialog.close();
      ctx.notify("success", "Replay scheduled", `${plan.name || preview.rule} runs again now.`);
      done({ job: replayed.job, state: replayed.state, reason: replayed.reason, actions: replayed.actions });
    } catch (failure) {
      confirm.disabled = false;
      error.textContent = failure.message;
    }
  });
  dialog.setAttribute("aria-labelledby", "replay-title");
  openDialog(dialog, button,
    dialogHead("replay-title", `Replay ${plan.name || preview.rule}?`, dialog),
    h("p", { class: "muted" }, `Job #${preview.job} `, pill(preview.state), ` ${withoutState(preview.reason, preview.state)}`),
    h("h3", {}, "What will happen"),
    h("dl", { class: "activity-facts replay-plan" },
      h("dt", {}, "Runs"), h("dd", {}, plan.runs ? "Yes" : "No"),
      h("dt", {}, "When"), h("dd", {}, plan.when),
      plan.condition ? [h("dt", {}, "Condition"), h("dd", {}, plan.condition)] : null,
      h("dt", {}, "Outcome"), h("dd", { class: "replay-outcome" }, plan.outcome)),
    preview.notes.length ? h("ul", { class: "replay-notes" }, preview.notes.map((text) => h("li", {}, text))) : null,
    plan.runs ? null : h("p", { class: "badge badge-warning" }, "As it stands the rule would not do its work: fix the rule (or the order) first, or replay to record it again."),
    error,
    h("div", { class: "activity-dialog-actions" }, confirm,
      h("button", { type: "button", class: "button-secondary", onclick: () => dialog.close() }, "Cancel")));
}

function withoutState(reason, state) {
  return String(reason || "").replace(new RegExp(`^${state}: `), "");
}

function openResolve(ctx, dialog, entry, button, done) {
  const error = h("p", { class: "form-error", role: "alert" });
  const decide = async (sent, control) => {
    control.disabled = true;
    try {
      const resolved = await ctx.api.post(`/jobs/${entry.job}/resolve`, { sent });
      dialog.close();
      ctx.notify("success", sent ? "Marked as sent" : "Sending again", sent ? "The rule after it follows." : "The job runs again now.");
      done({ job: resolved.job, state: resolved.state, reason: resolved.reason, actions: resolved.actions });
    } catch (failure) {
      control.disabled = false;
      error.textContent = failure.message;
    }
  };
  const sent = h("button", { type: "button", class: "button-primary" }, "It was sent");
  const notSent = h("button", { type: "button", class: "button-secondary" }, "It was not sent: send again");
  sent.addEventListener("click", () => decide(true, sent));
  notSent.addEventListener("click", () => decide(false, notSent));
  const d = entry.delivery;
  dialog.setAttribute("aria-labelledby", "resolve-title");
  openDialog(dialog, button,
    dialogHead("resolve-title", "Was it sent?", dialog),
    h("p", {}, "The app cannot tell whether this reached the customer, so it will not send it again on its own."),
    h("p", { class: "muted" }, entry.jobReason || entry.reason),
    d ? h("p", {}, `Look for the ${CHANNELS[d.channel] || d.channel} to ${d.recipient}`, d.providerId ? [" (", h("code", {}, d.providerId), ")"] : "",
      " in your provider's log, or ask the customer.") : h("p", {}, "Check your provider's log, or ask the customer."),
    h("ul", { class: "replay-notes" },
      h("li", {}, "Sent: the job counts as succeeded and the rule after it follows."),
      h("li", {}, "Not sent: it is sent again now.")),
    error,
    h("div", { class: "activity-dialog-actions" }, sent, notSent,
      h("button", { type: "button", class: "button-tertiary", onclick: () => dialog.close() }, "Cancel")));
}
