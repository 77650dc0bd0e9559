// The rule editor: one form for every kind (from the kind's schema), timing, repeat, condition, live preview.
import { conditionBuilder } from "./condition.js";
import { clear, h, slug, uniqueKey } from "./dom.js";
import { FormError, fieldBox, showErrors } from "./forms.js";
import { actionPart, timingPart } from "./rule_parts.js";
import { Templates } from "./templating.js";

export function allRuleKeys(board) {
  return new Set([...board.stages.flatMap((stage) => stage.rules), ...board.eventRules].map((rule) => rule.key));
}

/** Open the editor in `drawer` for `rule` (a board rule view) or a new rule with `defaults` ({stage} or {event}). */
export function openRuleEditor(ctx, drawer, { rule = null, defaults = {}, onSaved }) {
  const spec = rule ? rule.spec : { kind: null, enabled: true, repeat: "every_entry", delay_seconds: 0, ...defaults };
  const isNew = !rule;
  const kinds = ctx.catalogue.kinds;
  const templates = new Templates(ctx);
  const general = h("p", { class: "form-error", role: "alert" });
  const body = h("div", { class: "editor-body" });
  const side = h("aside", { class: "editor-side" });

  const name = h("input", { type: "text", maxlength: 200, value: spec.name || "" });
  const key = h("input", { type: "text", maxlength: 63, value: spec.key || "", readonly: !isNew });
  let keyTouched = !isNew;
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => {
    if (!keyTouched) key.value = uniqueKey(slug(name.value, "rule"), allRuleKeys(ctx.board));
  });
  const action = actionPart(ctx, spec, { kinds, templates, stages: ctx.board.stages, quietHours: ctx.board.settings.quietHours, disabled: !isNew });
  const kind = action.kind;
  const enabled = h("input", { type: "checkbox", checked: spec.enabled !== false });

  // When: a stage (entered) or an event (each time it happens).
  let placeRead;
  const place = h("div", { class: "editor-section" });
  if (spec.event !== undefined && spec.event !== null) {
    const event = h("select", {}, ctx.catalogue.events.map((e) => h("option", { value: e.name }, e.label)));
    event.value = spec.event;
    const params = h("div", { class: "event-params" });
    const paramInputs = {};
    const paintParams = () => {
      const known = ctx.catalogue.events.find((e) => e.name === event.value);
      clear(params, known.params.map((param) => {
        paramInputs[param] = h("input", { type: "text", value: (spec.event_params || {})[param] || "" });
        return fieldBox(`event_params.${param}`, `Only when ${param} is`, paramInputs[param], "Empty: any.");
      }));
    };
    event.addEventListener("change", () => { for (const k of Object.keys(paramInputs)) delete paramInputs[k]; paintParams(); });
    paintParams();
    const cancelOnMove = h("input", { type: "checkbox", checked: spec.cancel_on_move });
    place.append(h("h3", {}, "When"), fieldBox("event", "Each time this happens", event, ""), params,
      fieldBox("cancel_on_move", "Stop its waiting jobs when the order changes stage", cancelOnMove, "", { inline: true }));
    placeRead = () => {
      const eventParams = {};
      for (const [param, input] of Object.entries(paramInputs)) if (input.value.trim()) eventParams[param] = input.value.trim();
      return { event: event.value, event_params: eventParams, cancel_on_move: cancelOnMove.checked, stage: null };
    };
  } else {
    const stage = h("select", {}, ctx.board.stages.map((s) => h("option", { value: s.key }, s.name)));
    stage.value = spec.stage;
    place.append(h("h3", {}, "When"), fieldBox("stage", "When an order enters", stage, ""));
    placeRead = () => ({ stage: stage.value, event: null });
  }

  // Timing: a delay, a time of day, after the previous rule; repeat; max age.
  const timing = timingPart(spec, { timeZone: ctx.board.settings.timeZone, afterPrevious: !spec.event, quietNote: action.quietNote });
  const condition = conditionBuilder(ctx.catalogue.conditionFields, spec.condition);

  const read = () => {
    const config = action.read();
    return {
      key: key.value.trim(), name: name.value.trim(), kind: kind.value, enabled: enabled.checked, ...placeRead(),
      ...timing.read(), condition: condition.read(), config,
    };
  };

  const save = h("button", { type: "submit", class: "button-primary" }, isNew ? "Create rule" : "Save");
  const form = h("form", { class: "editor", novalidate: true, "aria-label": "Rule editor" },
    h("header", { class: "editor-head" }, h("h2", {}, isNew ? "New rule" : `Edit rule: ${spec.name}`),
      h("button", { type: "button", class: "button-tertiary", "aria-label": "Close", onclick: () => close() }, "✕")),
    general,
    h("div", { class: "editor-columns" }, body, side),
    h("footer", { class: "savebar" },
      isNew ? null : h("button", { type: "button", class: "button-critical", onclick: () => remove() }, "Delete"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-secondary", onclick: () => close() }, "Cancel"), save));
  body.append(
    h("div", { class: "editor-section" }, fieldBox("name", "Name", name, "", { required: true }),
      fieldBox("key", "Key", key, "Stable identifier (letters, digits, dashes); used in the YAML export.", { required: true }),
      fieldBox("kind", "Action", kind, "", { required: true }), fieldBox("enabled", "Enabled", enabled, "", { inline: true })),
    place, timing.el, h("div", { class: "editor-section" }, h("h3", {}, "Condition"), condition.el), action.el);
  side.append(templates.picker());

  const close = () => {
    drawer.hidden = true;
    clear(drawer);
  };
  const remove = async () => {
    try {
      await ctx.api.del(`/rules/${encodeURIComponent(spec.key)}`);
      ctx.notify("success", "Rule deleted", spec.name);
      close();
      onSaved();
    } catch (error) {
      general.textContent = error.message;
      ctx.failed(error, "Could not delete");
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    general.textContent = "";
    let payload;
    try {
      payload = read();
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      general.textContent = showErrors(form, [{ field: error.field, message: error.message }]).join(" ");
      return;
    }
    save.disabled = true;
    try {
      if (isNew) await ctx.api.post("/rules", payload);
      else await ctx.api.put(`/rules/${encodeURIComponent(spec.key)}`, payload);
      ctx.notify("success", isNew ? "Rule created" : "Rule saved", payload.name);
      close();
      onSaved();
    } catch (error) {
      const left = showErrors(form, error.fields && error.fields.length ? error.fields : []);
      general.textContent = error.fields && error.fields.length ? left.join(" ") : error.message;
      ctx.failed(error);
    } finally {
      save.disabled = false;
    }
  });
  clear(drawer, form);
  drawer.hidden = false;
  name.focus();
}
