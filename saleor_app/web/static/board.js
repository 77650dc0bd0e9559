// The pipeline board: stages as columns (triggers on top, rules below in execution order), like Bitrix24's
// automation board. Reorder rules by dragging or with the keyboard (Alt+↑/↓ or the arrow buttons).
import { clear, h, slug, uniqueKey } from "./dom.js";
import { fieldBox, showErrors } from "./forms.js";
import { openRuleEditor } from "./rule_editor.js";
import { openTriggerEditor } from "./trigger_editor.js";

const REFUNDS = [["any", "refund or not"], ["none", "no refund recorded"], ["recorded", "a refund recorded"]];

export function choices(ctx, field) {
  const spec = ctx.catalogue.conditionFields.find((f) => f.name === field);
  return (spec ? spec.choices : []).filter((choice) => choice !== "DRAFT");
}

export async function renderBoard(ctx, view, focus = null) {
  ctx.board = await ctx.api.get("/board");
  const drawer = h("div", { class: "drawer", id: "drawer", hidden: true });
  const reload = (key) => renderBoard(ctx, view, key).catch((error) => ctx.failed(error, "Could not load"));
  const columns = ctx.board.stages.map((stage, index) => stageColumn(ctx, stage, index, drawer, reload));
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Pipeline"),
        h("p", { class: "muted" }, "Orders move through these stages. Triggers move them; rules run when they enter.")),
      addStageMenu(ctx, reload)),
    ctx.board.settings.paused ? h("p", { class: "banner banner-warning" }, "Automation is paused: nothing is planned or run.") : null,
    h("div", { class: "board", role: "list", "aria-label": "Stages" }, columns),
    drawer);
  if (focus) {
    const target = view.querySelector(`[data-rule="${CSS.escape(focus)}"]`);
    if (target) target.focus();
  }
}

function stageColumn(ctx, stage, index, drawer, reload) {
  const stages = ctx.board.stages;
  const rules = h("ol", { class: "rules", "aria-label": `Rules of ${stage.name}` },
    stage.rules.map((rule, position) => ruleCard(ctx, stage, rule, position, drawer, reload)));
  enableDrop(ctx, stage, rules, reload);
  const moveStage = async (offset) => {
    const keys = stages.map((s) => s.key);
    keys.splice(index, 1);
    keys.splice(index + offset, 0, stage.key);
    try {
      await ctx.api.post("/pipeline/order", { keys });
      reload();
    } catch (error) {
      ctx.failed(error);
    }
  };
  return h("section", { class: "stage", role: "listitem", dataset: { stage: stage.key }, "aria-label": stage.name },
    h("header", { class: "stage-head" },
      h("h2", {}, stage.name),
      stage.custom ? h("span", { class: "pill" }, "custom") : null,
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "icon-button", "aria-label": `Move ${stage.name} left`, disabled: index === 0, onclick: () => moveStage(-1) }, "‹"),
      h("button", { type: "button", class: "icon-button", "aria-label": `Move ${stage.name} right`, disabled: index === stages.length - 1, onclick: () => moveStage(1) }, "›"),
      stageMenu(ctx, stage, reload)),
    stage.warnings.map((warning) => h("p", { class: "warning" }, warning)),
    h("div", { class: "triggers" },
      h("h3", {}, "Triggers"),
      stage.triggers.length ? null : h("p", { class: "muted small" }, stage.hasPlan || stage.custom ? "None: orders arrive by Saleor's status." : "Orders arrive by Saleor's status."),
      stage.triggers.map((trigger) => h("button", { type: "button", class: trigger.enabled ? "trigger" : "trigger disabled", dataset: { trigger: trigger.key },
        onclick: () => openTriggerEditor(ctx, drawer, { trigger, stage: stage.key, onSaved: reload }) },
      h("span", { class: "bolt", "aria-hidden": "true" }, "⚡"), trigger.name || eventLabel(ctx, trigger.event),
      trigger.conditionSummary ? h("span", { class: "muted small" }, ` if ${trigger.conditionSummary}`) : null)),
      stage.hasPlan || stage.custom ? h("button", { type: "button", class: "button-tertiary small", onclick: () => openTriggerEditor(ctx, drawer, { stage: stage.key, onSaved: reload }) }, "+ Add trigger") : null),
    rules,
    stage.rules.length ? null : h("div", { class: "empty-box" }, "No rules yet. Add one to email, text, call or update orders that enter this stage."),
    h("button", { type: "button", class: "button-secondary add-rule", onclick: () => openRuleEditor(ctx, drawer, { defaults: { stage: stage.key }, onSaved: reload }) }, "+ Add rule"));
}

function eventLabel(ctx, name) {
  const event = ctx.catalogue.events.find((e) => e.name === name);
  return event ? event.label : name;
}

export function ruleCard(ctx, stage, rule, position, drawer, reload) {
  const toggle = h("input", { type: "checkbox", role: "switch", checked: rule.enabled, "aria-label": `${rule.name} enabled` });
  toggle.addEventListener("change", async () => {
    try {
      await ctx.api.put(`/rules/${encodeURIComponent(rule.key)}`, { ...rule.spec, enabled: toggle.checked });
      ctx.notify("success", toggle.checked ? "Rule enabled" : "Rule disabled", rule.name);
      reload(rule.key);
    } catch (error) {
      toggle.checked = !toggle.checked;
      ctx.failed(error, "Could not change the rule");
    }
  });
  const move = (offset) => reorder(ctx, stage, rule.key, position + offset, reload);
  const card = h("li", { class: rule.enabled ? "rule-card" : "rule-card disabled", tabindex: "0", draggable: stage ? "true" : null,
    dataset: { rule: rule.key }, "aria-label": `${rule.kindLabel}: ${rule.name}` },
  h("div", { class: "card-top" }, h("span", { class: "kind" }, rule.kindLabel), h("span", { class: "spacer" }), h("label", { class: "switch" }, toggle, h("span", { class: "slider", "aria-hidden": "true" }))),
  h("button", { type: "button", class: "card-title", onclick: () => openRuleEditor(ctx, drawer, { rule, onSaved: reload }) }, rule.name),
  h("p", { class: "timing" }, rule.afterPrevious ? h("span", { class: "chain", title: "starts when the rule above finishes" }, "↳ ") : null,
    rule.timing, rule.repeat === "once_per_order" ? " · once per order" : ""),
  rule.conditionSummary ? h("p", { class: "cond" }, `if ${rule.conditionSummary}`) : null,
  rule.health.map((badge) => h("p", { class: `badge badge-${badge.level}`, dataset: { code: badge.code } }, badge.message)),
  stage ? h("div", { class: "card-actions" },
    h("button", { type: "button", class: "icon-button", "aria-label": `Move ${rule.name} up`, disabled: position === 0, onclick: () => move(-1) }, "↑"),
    h("button", { type: "button", class: "icon-button", "aria-label": `Move ${rule.name} down`, disabled: position === stage.rules.length - 1, onclick: () => move(1) }, "↓"),
    copyMoveMenu(ctx, stage, rule, reload)) : null);
  if (stage) {
    card.addEventListener("keydown", (event) => {
      if (event.target !== card || !event.altKey) return;
      if (event.key === "ArrowUp" && position > 0) { event.preventDefault(); move(-1); }
      if (event.key === "ArrowDown" && position < stage.rules.length - 1) { event.preventDefault(); move(1); }
    });
    card.addEventListener("dragstart", (event) => {
      event.dataTransfer.setData("text/plain", rule.key);
      event.dataTransfer.effectAllowed = "move";
      card.classList.add("dragging");
    });
    card.addEventListener("dragend", () => card.classList.remove("dragging"));
  }
  return card;
}

async function reorder(ctx, stage, key, to, reload) {
  const keys = stage.rules.map((rule) => rule.key).filter((k) => k !== key);
  keys.splice(Math.max(0, Math.min(to, keys.length)), 0, key);
  try {
    await ctx.api.post(`/stages/${encodeURIComponent(stage.key)}/rule-order`, { keys });
    reload(key);
  } catch (error) {
    ctx.failed(error, "Could not reorder");
  }
}

function enableDrop(ctx, stage, list, reload) {
  list.addEventListener("dragover", (event) => {
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
  });
  list.addEventListener("drop", (event) => {
    event.preventDefault();
    const key = event.dataTransfer.getData("text/plain");
    if (!stage.rules.some((rule) => rule.key === key)) return;
    const cards = [...list.querySelectorAll(".rule-card")].filter((card) => card.dataset.rule !== key);
    const index = cards.findIndex((card) => event.clientY < card.getBoundingClientRect().top + card.offsetHeight / 2);
    reorder(ctx, stage, key, index === -1 ? cards.length : index, reload);
  });
}

function copyMoveMenu(ctx, stage, rule, reload) {
  const target = h("select", { "aria-label": "Stage" }, ctx.board.stages.map((s) => h("option", { value: s.key }, s.name)));
  target.value = stage.key;
  const act = async (what) => {
    try {
      const result = await ctx.api.post(`/rules/${encodeURIComponent(rule.key)}/${what}`, { stage: target.value });
      ctx.notify("success", what === "copy" ? "Rule copied" : "Rule moved", result.rule.name);
      reload(result.rule.key);
    } catch (error) {
      ctx.failed(error, what === "copy" ? "Could not copy" : "Could not move");
    }
  };
  return h("details", { class: "menu" }, h("summary", { "aria-label": `Copy or move ${rule.name}` }, "Copy / move"),
    h("div", { class: "menu-body" }, h("label", {}, "To stage ", target),
      h("div", { class: "row" }, h("button", { type: "button", class: "button-secondary small", onclick: () => act("copy") }, "Copy"),
        h("button", { type: "button", class: "button-secondary small", onclick: () => act("move") }, "Move"))));
}

function statusBoxes(name, all, chosen) {
  return h("div", { class: "checks" }, all.map((value) => h("label", { class: "check" },
    h("input", { type: "checkbox", name, value, checked: chosen.includes(value) }), value.replace(/_/g, " ").toLowerCase())));
}

function checked(container, name) {
  return [...container.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

function stageMenu(ctx, stage, reload) {
  const name = h("input", { type: "text", value: stage.name, maxlength: 120 });
  const statuses = statusBoxes("status", choices(ctx, "status"), stage.match.status);
  const charges = stage.custom ? null : statusBoxes("charge", choices(ctx, "charge_status"), stage.match.chargeStatus || []);
  const refund = h("select", {}, REFUNDS.map(([value, label]) => h("option", { value }, label)));
  refund.value = stage.match.refund;
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "menu-body stage-form", novalidate: true },
    fieldBox("name", "Name", name, "", { required: true }),
    h("div", { class: "field", dataset: { field: "match.status" } }, h("p", { class: "label" }, stage.custom ? "Holds while Saleor's status is" : "Saleor status"), statuses, h("p", { class: "field-error", role: "alert" })),
    charges ? h("div", { class: "field", dataset: { field: "match.charge_status" } }, h("p", { class: "label" }, "Charge status (none checked: any)"), charges, h("p", { class: "field-error", role: "alert" })) : null,
    stage.custom ? null : fieldBox("match.refund", "Refund", refund, ""),
    error, h("button", { type: "submit", class: "button-primary small" }, "Save stage"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chargeStatus = charges ? checked(form, "charge") : [];
    const match = { status: checked(form, "status"), custom: stage.custom,
      ...(stage.custom ? {} : { refund: refund.value, charge_status: chargeStatus.length ? chargeStatus : null }) };
    try {
      await ctx.api.put(`/stages/${encodeURIComponent(stage.key)}`, { name: name.value.trim(), match });
      ctx.notify("success", "Stage saved", name.value);
      reload();
    } catch (failure) {
      error.textContent = showErrors(form, failure.fields || []).join(" ") || (failure.fields && failure.fields.length ? "" : failure.message);
      ctx.failed(failure);
    }
  });
  return h("details", { class: "menu menu-right" }, h("summary", { "aria-label": `Edit stage ${stage.name}` }, "Edit"), form);
}

function addStageMenu(ctx, reload) {
  const name = h("input", { type: "text", maxlength: 120, placeholder: "Awaiting pickup" });
  const statuses = statusBoxes("allowed", choices(ctx, "status"), ["UNFULFILLED"]);
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h("form", { class: "menu-body stage-form", novalidate: true },
    fieldBox("name", "Name", name, "", { required: true }),
    h("div", { class: "field", dataset: { field: "allowed_statuses" } }, h("p", { class: "label" }, "Orders stay while Saleor's status is"), statuses, h("p", { class: "field-error", role: "alert" })),
    error, h("button", { type: "submit", class: "button-primary small" }, "Add stage"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const taken = new Set(ctx.board.stages.map((s) => s.key));
    const body = { key: uniqueKey(slug(name.value, "stage"), taken), name: name.value.trim(), allowed_statuses: checked(form, "allowed") };
    try {
      await ctx.api.post("/stages", body);
      ctx.notify("success", "Stage added", body.name);
      reload();
    } catch (failure) {
      error.textContent = showErrors(form, failure.fields || []).join(" ") || (failure.fields && failure.fields.length ? "" : failure.message);
      ctx.failed(failure);
    }
  });
  return h("details", { class: "menu menu-right" }, h("summary", { class: "button-primary" }, "Add custom stage"), form);
}
