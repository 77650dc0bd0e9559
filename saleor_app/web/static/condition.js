// The condition builder: all/any of comparisons on order fields (the fields and operators come from the API).
import { clear, h } from "./dom.js";
import { FormError } from "./forms.js";

const LIST_OPS = new Set(["in", "not_in", "contains_any", "contains_none"]);
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

export function conditionBuilder(fields, condition, path = "condition") {
  const byName = Object.fromEntries(fields.map((field) => [field.name, field]));
  const match = h("select", { "aria-label": "Match" }, h("option", { value: "all" }, "all of"), h("option", { value: "any" }, "any of"));
  match.value = (condition && condition.match) || "all";
  const rows = h("div", { class: "condition-rows" });
  const readers = [];

  const addRow = (comparison = {}) => {
    const index = readers.length;
    const field = h("select", { "aria-label": "Field" }, fields.map((f) => h("option", { value: f.name }, f.label)));
    field.value = comparison.field || fields[0].name;
    const op = h("select", { "aria-label": "Operator" });
    const valueBox = h("span", { class: "condition-value" });
    let readValue = () => null;
    const row = h("div", { class: "condition-row", dataset: { field: `${path}.rules.${index}` } });
    const remove = h("button", { type: "button", class: "button-tertiary", "aria-label": "Remove this comparison", onclick: () => {
      row.remove();
      readers[index] = null;
    } }, "✕");
    const paint = (keepValue) => {
      const spec = byName[field.value];
      const wanted = keepValue ? comparison.op : op.value;
      clear(op, spec.ops.map((o) => h("option", { value: o.op }, o.label)));
      if (spec.ops.some((o) => o.op === wanted)) op.value = wanted;
      readValue = valueEditor(valueBox, spec, op.value, keepValue ? comparison : {});
    };
    field.addEventListener("change", () => paint(false));
    op.addEventListener("change", () => { readValue = valueEditor(valueBox, byName[field.value], op.value, {}); });
    paint(true);
    row.append(field, op, valueBox, remove, h("p", { class: "field-error", role: "alert" }));
    rows.append(row);
    readers.push(() => ({ field: field.value, op: op.value, ...readValue() }));
  };
  for (const comparison of (condition && condition.rules) || []) addRow(comparison);
  const el = h("div", { class: "condition", dataset: { field: path } },
    h("div", { class: "condition-head" }, h("span", {}, "Run only when"), match, h("span", {}, "these hold:")),
    rows,
    h("button", { type: "button", class: "button-secondary", onclick: () => addRow() }, "Add comparison"),
    h("p", { class: "help" }, "No comparisons: always."),
    h("p", { class: "field-error", role: "alert" }));
  return {
    el,
    read() {
      const rules = readers.filter(Boolean).map((read) => read());
      return rules.length ? { match: match.value, rules } : null;
    },
  };
}

function valueEditor(box, spec, op, comparison) {
  const parts = [];
  let key = null;
  if (spec.kind === "metadata") {
    key = h("input", { type: "text", placeholder: "metadata key", "aria-label": "Metadata key", value: comparison.key || "" });
    parts.push(key);
  }
  let read;
  if (op === "exists" || op === "not_exists") {
    read = () => ({});
  } else if (spec.kind === "time_window") {
    const value = comparison.value || {};
    const from = h("input", { type: "time", "aria-label": "From", value: value.from || "09:00" });
    const to = h("input", { type: "time", "aria-label": "To", value: value.to || "18:00" });
    const days = DAYS.map((day) => {
      const box = h("input", { type: "checkbox", value: day, checked: !value.days || value.days.includes(day) });
      return h("label", { class: "day" }, box, day);
    });
    parts.push(from, "–", to, ...days);
    read = () => {
      const chosen = days.map((label) => label.firstChild).filter((b) => b.checked).map((b) => b.value);
      return { value: { from: from.value, to: to.value, days: chosen.length === 7 ? null : chosen } };
    };
  } else if (spec.kind === "boolean") {
    const select = h("select", { "aria-label": "Value" }, h("option", { value: "true" }, "yes"), h("option", { value: "false" }, "no"));
    select.value = String(comparison.value ?? true);
    parts.push(select);
    read = () => ({ value: select.value === "true" });
  } else {
    const list = LIST_OPS.has(op);
    const shown = Array.isArray(comparison.value) ? comparison.value.join(", ") : (comparison.value ?? "");
    const input = h("input", { type: spec.kind === "money" || spec.kind === "number" ? "number" : "text", step: "any",
      "aria-label": "Value", placeholder: list ? "comma-separated" : (spec.choices.length ? spec.choices.join(" / ") : "value"), value: shown });
    if (spec.choices.length) {
      const id = `choices-${spec.name}`;
      input.setAttribute("list", id);
      parts.push(h("datalist", { id }, spec.choices.map((choice) => h("option", { value: choice }))));
    }
    parts.push(input);
    read = () => {
      if (input.value.trim() === "") throw new FormError("condition", `give a value for ${spec.label}`);
      if (list) return { value: input.value.split(",").map((item) => item.trim()).filter(Boolean) };
      if (spec.kind === "money" || spec.kind === "number") return { value: Number(input.value) };
      return { value: input.value.trim() };
    };
  }
  clear(box, parts);
  return () => ({ ...(key ? { key: key.value.trim() } : {}), ...read() });
}
