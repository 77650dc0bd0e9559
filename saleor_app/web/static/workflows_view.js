// Workflows: named, reusable lists of steps a "Run workflow" rule starts for an order. Each step is edited with
// the rule editor's own parts (rule_parts.js): the kind and its settings, timing, after the previous step, and a
// condition. The API's refusals (a workflow that would start itself, an unknown workflow or member) appear
// beside the step's field that causes them.
import { conditionBuilder } from "./condition.js";
import { clear, h, slug, uniqueKey } from "./dom.js";
import { FormError, fieldBox, showErrors } from "./forms.js";
import { actionPart, timingPart } from "./rule_parts.js";
import { Templates } from "./templating.js";

// A workflow cannot change the stage (the move would cancel its own jobs): the API refuses it, so it is not offered.
const NOT_IN_STEPS = new Set(["change_stage"]);

export async function renderWorkflows(ctx, view, options = {}) {
  const [workflows, board] = await Promise.all([ctx.api.get("/workflows"), ctx.api.get("/board")]);
  ctx.board = board; // the editors' stages, time zone and quiet hours
  const drawer = h("div", { class: "drawer", id: "drawer", hidden: true });
  const reload = (focus) => renderWorkflows(ctx, view, { focus }).catch((error) => ctx.failed(error, "Could not load"));
  const starters = startedBy(board);
  const open = (workflow) => openWorkflowEditor(ctx, drawer, { workflow, workflows, onSaved: reload });
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Workflows"),
        h("p", { class: "muted" }, "Named lists of steps that a “Run workflow” rule starts for an order, so several stages can share them.")),
      h("button", { type: "button", class: "button-primary", onclick: () => open(null) }, "New workflow")),
    workflows.length ? h("ul", { class: "workflow-list", "aria-label": "Workflows" }, workflows.map((workflow) => workflowCard(ctx, workflow, starters, open)))
      : h("div", { class: "empty-box" }, "No workflows yet. Create one (say, a dunning sequence: a reminder, a second one a day later, a task) and start it from any stage with a “Run workflow” rule."),
    drawer);
  if (options.focus) {
    const target = view.querySelector(options.focus);
    if (target) target.focus();
  }
}

function startedBy(board) {
  const found = new Map();
  for (const rule of [...board.stages.flatMap((stage) => stage.rules), ...board.eventRules]) {
    if (rule.spec.kind !== "run_workflow") continue;
    const key = rule.spec.config.workflow;
    found.set(key, [...(found.get(key) || []), rule.name || rule.key]);
  }
  return found;
}

function duration(seconds) {
  for (const [size, unit] of [[86400, "d"], [3600, "h"], [60, "min"]]) if (seconds % size === 0) return `${seconds / size} ${unit}`;
  return `${seconds} s`;
}

export function stepTiming(step) {
  const parts = [];
  if (step.after_previous) parts.push("after the previous step");
  if (step.delay_seconds) parts.push(`wait ${duration(step.delay_seconds)}`);
  if (step.at) parts.push(`at ${String(step.at).slice(0, 5)}`);
  return parts.length ? parts.join(", ") : "right away";
}

function kindLabel(ctx, name) {
  const kind = ctx.catalogue.kinds.find((k) => k.name === name);
  return kind ? kind.label : name;
}

function workflowCard(ctx, workflow, starters, open) {
  const rules = starters.get(workflow.key) || [];
  const title = workflow.name || workflow.key;
  return h("li", { class: workflow.enabled ? "card workflow" : "card workflow disabled", dataset: { workflow: workflow.key } },
    h("div", { class: "card-head" },
      h("h2", {}, title, h("code", { class: "muted key" }, ` ${workflow.key}`)),
      h("button", { type: "button", class: "button-secondary small", "aria-label": `Edit workflow ${title}`, onclick: () => open(workflow) }, "Edit")),
    h("p", { class: "row pills" },
      workflow.enabled ? null : h("span", { class: "pill pill-away" }, "Disabled"),
      h("span", { class: "pill" }, workflow.outlive_stage ? "Keeps running after the order leaves the stage" : "Stops when the order leaves the stage")),
    h("ol", { class: "step-summary" }, workflow.steps.map((step) => h("li", {},
      h("span", { class: "step-kind" }, kindLabel(ctx, step.kind)), step.name ? ` ${step.name}` : "",
      h("span", { class: "muted" }, ` · ${stepTiming(step)}`), step.condition ? h("span", { class: "muted" }, " · with a condition") : null))),
    h("p", { class: "muted small" }, rules.length ? `Started by: ${rules.join(", ")}` : "No rule starts it yet."));
}

export function openWorkflowEditor(ctx, drawer, { workflow = null, workflows, onSaved }) {
  const isNew = !workflow;
  const spec = workflow || { key: "", name: "", enabled: true, outlive_stage: false, steps: [] };
  const templates = new Templates(ctx);
  const kinds = ctx.catalogue.kinds.filter((k) => !NOT_IN_STEPS.has(k.name));
  const taken = new Set(workflows.map((w) => w.key));
  const general = h("p", { class: "form-error", role: "alert" });

  const name = h("input", { type: "text", maxlength: 200, value: spec.name || "" });
  const key = h("input", { type: "text", maxlength: 30, value: spec.key, readonly: !isNew });
  let keyTouched = !isNew;
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => { if (!keyTouched) key.value = uniqueKey(slug(name.value, "workflow").slice(0, 26), taken); });
  const enabled = h("input", { type: "checkbox", role: "switch", checked: spec.enabled !== false });
  const outlive = h("input", { type: "checkbox", role: "switch", checked: spec.outlive_stage });

  const list = h("ol", { class: "steps", "aria-label": "Steps" });
  const steps = [];
  let counter = 0;
  const renumber = () => {
    steps.forEach((step, index) => step.number(index, steps.length));
  };
  const addStep = (stepSpec, focus) => {
    counter += 1;
    const step = stepEditor(ctx, stepSpec, { uid: counter, kinds, templates, steps, renumber });
    steps.push(step);
    list.append(step.el);
    renumber();
    if (focus) step.focus();
  };
  for (const step of spec.steps) addStep(step, false);
  if (!spec.steps.length) addStep({ kind: null, delay_seconds: 0 }, false);

  const save = h("button", { type: "submit", class: "button-primary" }, isNew ? "Create workflow" : "Save");
  const body = h("div", { class: "editor-body" },
    h("div", { class: "editor-section" },
      h("div", { class: "form-grid" }, fieldBox("name", "Name", name, "", { required: true }),
        fieldBox("key", "Key", key, "How “Run workflow” rules name it (letters, digits, dashes).", { required: true })),
      fieldBox("enabled", "Enabled", enabled, "Disabled: rules that start it skip, with that reason in the activity.", { inline: true }),
      fieldBox("outlive_stage", "Keep running after the order leaves the stage", outlive,
        "Off: leaving the stage cancels the steps still waiting, like the stage's own rules.", { inline: true })),
    h("div", { class: "editor-section", dataset: { field: "steps" } },
      h("h3", {}, "Steps"), h("p", { class: "field-error", role: "alert" }), list,
      h("button", { type: "button", class: "button-secondary", onclick: () => addStep({ kind: null, delay_seconds: 0, after_previous: steps.length > 0 }, true) }, "+ Add step")));
  const side = h("aside", { class: "editor-side" }, templates.picker());
  const close = () => {
    drawer.hidden = true;
    clear(drawer);
  };
  const title = isNew ? "New workflow" : `Edit workflow: ${spec.name || spec.key}`;
  const form = h("form", { class: "editor workflow-editor", novalidate: true, "aria-label": "Workflow editor" },
    h("header", { class: "editor-head" }, h("h2", {}, title),
      h("button", { type: "button", class: "button-tertiary", "aria-label": "Close", onclick: close }, "✕")),
    general,
    h("div", { class: "editor-columns" }, body, side),
    h("footer", { class: "savebar" },
      isNew ? null : h("button", { type: "button", class: "button-critical", onclick: () => remove() }, "Delete"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-secondary", onclick: close }, "Cancel"), save));

  const remove = async () => {
    general.textContent = "";
    try {
      await ctx.api.del(`/workflows/${encodeURIComponent(spec.key)}`);
      ctx.notify("success", "Workflow deleted", spec.name || spec.key);
      close();
      onSaved();
    } catch (error) {
      general.textContent = error.fields && error.fields.length ? error.fields.map((f) => f.message).join(" ") : error.message;
      ctx.failed(error, "Could not delete");
    }
  };
  /** The API's `steps.N.…` paths name steps by position; the form's fields by a stable id per step. */
  const localPath = (field) => {
    const match = /^steps\.(\d+)(\.(.*))?$/.exec(field || "");
    if (!match || !steps[Number(match[1])]) return field;
    return `${steps[Number(match[1])].prefix}${match[3] || ""}`.replace(/\.$/, "");
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    general.textContent = "";
    showErrors(form, []);
    const wanted = key.value.trim() || uniqueKey(slug(name.value, "workflow").slice(0, 26), taken);
    key.value = wanted;
    if (isNew && taken.has(wanted)) {
      general.textContent = showErrors(form, [{ field: "key", message: `a workflow ${wanted} exists already; choose another key` }]).join(" ");
      return;
    }
    let payload;
    try {
      payload = { name: name.value.trim(), enabled: enabled.checked, outlive_stage: outlive.checked, steps: steps.map((step) => step.read()) };
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      general.textContent = showErrors(form, [{ field: error.field, message: error.message }]).join(" ");
      return;
    }
    save.disabled = true;
    try {
      await ctx.api.put(`/workflows/${encodeURIComponent(wanted)}`, payload);
      ctx.notify("success", isNew ? "Workflow created" : "Workflow saved", payload.name || wanted);
      close();
      onSaved(`[data-workflow="${CSS.escape(wanted)}"] button`);
    } catch (error) {
      const fields = (error.fields || []).map((item) => ({ field: localPath(item.field), message: item.message }));
      const left = showErrors(form, fields);
      general.textContent = fields.length ? left.join(" ") : error.message;
      ctx.failed(error);
    } finally {
      save.disabled = false;
    }
  });
  clear(drawer, form, h("datalist", { id: "workflow-keys" }, workflows.map((w) => h("option", { value: w.key }, w.name || w.key))));
  drawer.hidden = false;
  name.focus();
}

/** One step: the rule editor's parts under the path prefix `s<uid>.` (ids and error slots stay unique). */
function stepEditor(ctx, stepSpec, { uid, kinds, templates, steps, renumber }) {
  const prefix = `s${uid}.`;
  const name = h("input", { type: "text", maxlength: 200, value: stepSpec.name || "" });
  const key = h("input", { type: "text", maxlength: 24, value: stepSpec.key || "" });
  let keyTouched = Boolean(stepSpec.key);
  const otherKeys = () => new Set(steps.filter((s) => s.prefix !== prefix).map((s) => s.key()));
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => { if (!keyTouched) key.value = uniqueKey(slug(name.value, "step").slice(0, 20), otherKeys()); });
  let action = null;
  const offerWorkflows = () => { // a run-workflow step offers the workflows there are
    const target = action.el.querySelector(`[data-field="${CSS.escape(`${prefix}config.workflow`)}"] input`);
    if (target) target.setAttribute("list", "workflow-keys");
  };
  action = actionPart(ctx, stepSpec, {
    prefix, kinds, templates, stages: ctx.board.stages, quietHours: ctx.board.settings.quietHours, noun: "step", sharedTemplates: true,
    onKind: (chosen) => {
      if (!keyTouched && !name.value && chosen) key.value = uniqueKey(slug(chosen.name, "step").slice(0, 20), otherKeys());
      if (action) offerWorkflows();
    },
  });
  offerWorkflows();
  const timing = timingPart(stepSpec, { prefix, timeZone: ctx.board.settings.timeZone, repeat: false, quietNote: action.quietNote,
    afterLabel: "Start after the previous step finishes" });
  const condition = conditionBuilder(ctx.catalogue.conditionFields, stepSpec.condition, `${prefix}condition`);
  const heading = h("h3", { class: "step-title", id: `step-title-${uid}` });
  const up = h("button", { type: "button", class: "icon-button" }, "↑");
  const down = h("button", { type: "button", class: "icon-button" }, "↓");
  const removeButton = h("button", { type: "button", class: "button-tertiary small" }, "Remove step");
  const el = h("li", { class: "step", dataset: { field: `s${uid}`, step: String(uid) }, "aria-labelledby": `step-title-${uid}` },
    h("div", { class: "step-head" }, heading, h("span", { class: "spacer" }), up, down, removeButton),
    h("p", { class: "field-error", role: "alert" }),
    h("div", { class: "form-grid" }, fieldBox(`${prefix}name`, "Name", name, ""),
      fieldBox(`${prefix}key`, "Key", key, "Letters, digits, dashes; unique in the workflow.", { required: true }),
      fieldBox(`${prefix}kind`, "Action", action.kind, "", { required: true })),
    action.el, timing.el, h("div", { class: "editor-section" }, h("h3", {}, "Condition"), condition.el));
  const move = (offset) => {
    const index = steps.findIndex((s) => s.prefix === prefix);
    const to = index + offset;
    if (to < 0 || to >= steps.length) return;
    const [self] = steps.splice(index, 1);
    steps.splice(to, 0, self);
    const list = el.parentElement;
    for (const step of steps) list.append(step.el);
    renumber();
    (offset < 0 ? up : down).focus();
  };
  up.addEventListener("click", () => move(-1));
  down.addEventListener("click", () => move(1));
  removeButton.addEventListener("click", () => {
    const index = steps.findIndex((s) => s.prefix === prefix);
    steps.splice(index, 1);
    el.remove();
    renumber();
    const next = steps[Math.min(index, steps.length - 1)];
    if (next) next.focus();
  });
  return {
    el, prefix,
    key: () => key.value.trim(),
    focus: () => name.focus(),
    number(index, total) {
      heading.textContent = `Step ${index + 1}`;
      up.disabled = index === 0;
      down.disabled = index === total - 1;
      removeButton.disabled = total === 1;
      up.setAttribute("aria-label", `Move step ${index + 1} up`);
      down.setAttribute("aria-label", `Move step ${index + 1} down`);
      removeButton.setAttribute("aria-label", `Remove step ${index + 1}`);
    },
    read() {
      if (!key.value.trim()) key.value = uniqueKey(slug(name.value || action.kind.value, "step").slice(0, 20), otherKeys());
      let config;
      let when;
      try {
        config = action.read();
        when = condition.read();
      } catch (error) {
        if (error instanceof FormError && !String(error.field).startsWith(prefix)) throw new FormError(`${prefix}${error.field}`, error.message);
        throw error;
      }
      return { key: key.value.trim(), name: name.value.trim(), kind: action.kind.value, config, ...timing.read(), condition: when };
    },
  };
}
