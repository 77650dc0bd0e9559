// The trigger editor: which event moves orders into the stage, narrowed by params and a condition.
import { conditionBuilder } from "./condition.js";
import { clear, h, slug, uniqueKey } from "./dom.js";
import { FormError, fieldBox, showErrors } from "./forms.js";

export function openTriggerEditor(ctx, drawer, { trigger = null, stage, onSaved }) {
  const spec = trigger ? trigger.spec : { stage, enabled: true, allow_back: false, params: {} };
  const isNew = !trigger;
  const taken = new Set(ctx.board.stages.flatMap((s) => s.triggers).map((t) => t.key));
  const general = h("p", { class: "form-error", role: "alert" });
  const name = h("input", { type: "text", maxlength: 200, value: spec.name || "" });
  const key = h("input", { type: "text", maxlength: 63, value: spec.key || "", readonly: !isNew });
  let keyTouched = !isNew;
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => { if (!keyTouched) key.value = uniqueKey(slug(name.value, "trigger"), taken); });
  const event = h("select", {}, ctx.catalogue.events.map((e) => h("option", { value: e.name }, e.label)));
  event.value = spec.event || "order_fully_paid";
  const params = h("div");
  const paramInputs = {};
  const paintParams = () => {
    for (const k of Object.keys(paramInputs)) delete paramInputs[k];
    const known = ctx.catalogue.events.find((e) => e.name === event.value);
    clear(params, known.params.map((param) => {
      paramInputs[param] = h("input", { type: "text", value: (spec.params || {})[param] || "" });
      return fieldBox(`params.${param}`, `Only when ${param} is`, paramInputs[param], "");
    }));
  };
  event.addEventListener("change", paintParams);
  paintParams();
  const target = h("select", {}, ctx.board.stages.map((s) => h("option", { value: s.key }, s.name)));
  target.value = spec.stage;
  const allowBack = h("input", { type: "checkbox", checked: spec.allow_back });
  const enabled = h("input", { type: "checkbox", checked: spec.enabled !== false });
  const condition = conditionBuilder(ctx.catalogue.conditionFields, spec.condition);
  const save = h("button", { type: "submit", class: "button-primary" }, isNew ? "Create trigger" : "Save");
  const close = () => { drawer.hidden = true; clear(drawer); };
  const form = h("form", { class: "editor editor-narrow", novalidate: true, "aria-label": "Trigger editor" },
    h("header", { class: "editor-head" }, h("h2", {}, isNew ? "New trigger" : `Edit trigger: ${spec.name || spec.key}`),
      h("button", { type: "button", class: "button-tertiary", "aria-label": "Close", onclick: close }, "✕")),
    general,
    h("div", { class: "editor-body" },
      h("div", { class: "editor-section" }, fieldBox("name", "Name", name, ""), fieldBox("key", "Key", key, "", { required: true }),
        fieldBox("event", "When this happens", event, ""), params, fieldBox("stage", "Move the order to", target, ""),
        fieldBox("allow_back", "Also move orders that are further along (allow moving back)", allowBack, "", { inline: true }),
        fieldBox("enabled", "Enabled", enabled, "", { inline: true })),
      h("div", { class: "editor-section" }, h("h3", {}, "Condition"), condition.el)),
    h("footer", { class: "savebar" },
      isNew ? null : h("button", { type: "button", class: "button-critical", onclick: () => remove() }, "Delete"),
      h("span", { class: "spacer" }), h("button", { type: "button", class: "button-secondary", onclick: close }, "Cancel"), save));
  const remove = async () => {
    try {
      await ctx.api.del(`/triggers/${encodeURIComponent(spec.key)}`);
      ctx.notify("success", "Trigger deleted", spec.name || spec.key);
      close();
      onSaved();
    } catch (error) {
      general.textContent = error.message;
      ctx.failed(error, "Could not delete");
    }
  };
  form.addEventListener("submit", async (submitted) => {
    submitted.preventDefault();
    general.textContent = "";
    let payload;
    try {
      const chosen = {};
      for (const [param, input] of Object.entries(paramInputs)) if (input.value.trim()) chosen[param] = input.value.trim();
      payload = { key: key.value.trim(), name: name.value.trim(), stage: target.value, event: event.value, params: chosen,
        condition: condition.read(), allow_back: allowBack.checked, enabled: enabled.checked };
    } catch (error) {
      if (!(error instanceof FormError)) throw error;
      general.textContent = showErrors(form, [{ field: error.field, message: error.message }]).join(" ");
      return;
    }
    save.disabled = true;
    try {
      if (isNew) await ctx.api.post("/triggers", payload);
      else await ctx.api.put(`/triggers/${encodeURIComponent(spec.key)}`, payload);
      ctx.notify("success", isNew ? "Trigger created" : "Trigger saved", payload.name || payload.key);
      close();
      onSaved();
    } catch (error) {
      const left = showErrors(form, error.fields || []);
      general.textContent = error.fields && error.fields.length ? left.join(" ") : error.message;
      ctx.failed(error);
    } finally {
      save.disabled = false;
    }
  });
  clear(drawer, form);
  drawer.hidden = false;
  name.focus();
  if (!isNew && spec.event === "inbound_webhook") showInboundUrl(ctx, spec.key, form.querySelector(".editor-section"));
}

/** An inbound-webhook trigger's secret URL, for the outside system that fires it. */
async function showInboundUrl(ctx, key, section) {
  try {
    const found = (await ctx.api.get("/triggers")).find((t) => t.key === key);
    if (!found || !found.inboundUrl) return;
    const url = h("input", { type: "text", readonly: true, value: found.inboundUrl });
    section.append(fieldBox("inbound_url", "URL for the outside system", url,
      "POST {\"order\": \"<id or number>\"} to it. Keep it secret: anyone with it can move orders."));
  } catch (error) {
    ctx.failed(error, "Could not load the trigger's URL");
  }
}
