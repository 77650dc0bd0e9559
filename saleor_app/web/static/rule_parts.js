// The parts of the rule editor that workflow steps share: what it does (a kind and its settings form, from the
// kind's schema) and its timing. Each takes a `prefix` for its field paths and ids, so several live in one form.
import { clear, h } from "./dom.js";
import { FormError, fieldBox, schemaForm } from "./forms.js";

const UNITS = [["m", 60, "minutes"], ["h", 3600, "hours"], ["d", 86400, "days"]];

function idOf(prefix, name) {
  return `${prefix.replace(/[^a-zA-Z0-9]+/g, "-")}${name}`;
}

/**
 * The kind select (`kind`, placed by the caller) and the chosen kind's settings (`el`). `quietNote` (also placed
 * by the caller) says how quiet hours apply to realtime kinds. read() gives the config or throws FormError.
 */
export function actionPart(ctx, spec, { prefix = "", kinds, templates, stages = [], quietHours = null, disabled = false,
  noun = "rule", sharedTemplates = false, onKind = null } = {}) {
  const kind = h("select", { disabled }, h("option", { value: "" }, `Choose what the ${noun} does…`),
    kinds.map((k) => h("option", { value: k.name }, k.label)));
  kind.value = spec.kind || "";
  const quietNote = h("p", { class: "help quiet-note" });
  const el = h("div", { class: "editor-section" });
  let configForm = null;
  const paint = () => {
    const chosen = kinds.find((k) => k.name === kind.value);
    // One editor's template fields are its own; steps of a workflow share one picker, so keep the others'.
    if (!sharedTemplates) templates.fields = [];
    configForm = null;
    if (!chosen) {
      clear(el, h("p", { class: "muted" }, `Choose what the ${noun} does to see its settings.`));
      clear(quietNote);
    } else {
      configForm = schemaForm(chosen.schema, chosen.hints, spec.kind === chosen.name ? spec.config : {}, { templates, stages },
        `${prefix}config.`);
      clear(el, h("h3", {}, chosen.label), configForm.el);
      quietNote.textContent = chosen.realtime
        ? (quietHours ? `Quiet hours ${quietHours.start}–${quietHours.end}: a send due then waits until ${quietHours.end}.` : "No quiet hours are set: sends go out at any hour (Settings).")
        : "";
    }
    if (onKind) onKind(chosen || null);
  };
  kind.addEventListener("change", paint);
  paint();
  return {
    kind, el, quietNote,
    read() {
      if (!configForm) throw new FormError(`${prefix}kind`, `choose what the ${noun} does`);
      return configForm.read();
    },
  };
}

/**
 * Timing: a wait, a time of day, after the previous one, (`repeat`) repeat, a maximum lateness. read() gives
 * {delay_seconds, at, after_previous, max_age_seconds} (and `repeat` when shown).
 */
export function timingPart(spec, { prefix = "", timeZone = "UTC", afterPrevious = true, repeat = true, quietNote = null,
  afterLabel = "Start after the previous rule finishes" } = {}) {
  const delaySeconds = spec.delay_seconds || 0;
  const [unitKey, unitSize] = (delaySeconds && [...UNITS].reverse().find(([, size]) => delaySeconds % size === 0)) || UNITS[0];
  const amountId = idOf(prefix, "delay-amount");
  const delayAmount = h("input", { type: "number", min: 0, step: 1, value: delaySeconds ? delaySeconds / unitSize : 0, "aria-label": "Wait", id: amountId });
  const delayUnit = h("select", { "aria-label": "Unit" }, UNITS.map(([k, , label]) => h("option", { value: k }, label)));
  delayUnit.value = unitKey;
  const at = h("input", { type: "time", value: spec.at || "" });
  const after = h("input", { type: "checkbox", checked: spec.after_previous });
  const repeatSelect = h("select", {}, h("option", { value: "every_entry" }, "every time the order enters"),
    h("option", { value: "once_per_order" }, "once per order"));
  repeatSelect.value = spec.repeat || "every_entry";
  const maxAge = h("input", { type: "number", min: 1, step: 1, value: spec.max_age_seconds ? spec.max_age_seconds / 60 : "" });
  const el = h("div", { class: "editor-section" }, h("h3", {}, "Timing"),
    h("div", { class: "field", dataset: { field: `${prefix}delay_seconds` } }, h("label", { for: amountId }, "Wait"),
      h("div", { class: "row" }, delayAmount, delayUnit), h("p", { class: "help" }, "0: immediately."),
      h("p", { class: "field-error", role: "alert" })),
    fieldBox(`${prefix}at`, "Then run at (time of day)", at, `Optional: the next such time in the shop's time zone (${timeZone}).`),
    afterPrevious ? fieldBox(`${prefix}after_previous`, afterLabel, after, "", { inline: true }) : null,
    repeat ? fieldBox(`${prefix}repeat`, "Repeat", repeatSelect, "") : null,
    fieldBox(`${prefix}max_age_seconds`, "Skip when late by more than (minutes)", maxAge, "Empty: run however late (e.g. after an outage)."),
    quietNote);
  return {
    el,
    read() {
      const size = UNITS.find(([k]) => k === delayUnit.value)[1];
      return {
        delay_seconds: Math.round(Number(delayAmount.value || 0) * size), at: at.value || null,
        after_previous: afterPrevious ? after.checked : false, ...(repeat ? { repeat: repeatSelect.value } : {}),
        max_age_seconds: maxAge.value ? Math.round(Number(maxAge.value) * 60) : null,
      };
    },
  };
}
