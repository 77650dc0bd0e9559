// Forms generated from a rule kind's JSON schema (pydantic's model_json_schema) plus the server's UI hints, so a
// kind registered later gets its editor without a change here.
import { h } from "./dom.js";

export class FormError extends Error {
  constructor(field, message) {
    super(message);
    this.field = field;
  }
}

function resolve(root, node) {
  if (node && node.$ref) return resolve(root, (root.$defs || {})[node.$ref.split("/").pop()] || {});
  if (node && node.allOf && node.allOf.length === 1) return resolve(root, node.allOf[0]);
  return node || {};
}

function unwrap(root, node) {
  const options = node.anyOf || node.oneOf;
  if (options) {
    const real = options.filter((option) => option.type !== "null");
    if (real.length === 1) {
      return { node: { ...resolve(root, real[0]), title: node.title, description: node.description, default: node.default }, nullable: true };
    }
  }
  // A $ref'd enum's own title is its type name ("PhoneType"): the property's name reads better.
  return { node: { ...resolve(root, node), title: node.title, description: node.description || resolve(root, node).description, default: node.default }, nullable: false };
}

export function fieldBox(path, label, control, help, { required = false, inline = false } = {}) {
  const id = `f-${path.replace(/[^a-zA-Z0-9]+/g, "-")}`;
  control.id = control.id || id;
  return h("div", { class: inline ? "field field-inline" : "field", dataset: { field: path } },
    inline ? [control, h("label", { for: control.id }, label)] : [h("label", { for: control.id }, label, required ? h("span", { class: "required", "aria-hidden": "true" }, " *") : null), control],
    help ? h("p", { class: "help" }, help) : null,
    h("p", { class: "field-error", role: "alert" }));
}

function title(name, node) {
  const text = node.title || name.replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * A form for `schema`. `ctx.templates` (templating.js) adopts template fields; `ctx.stages` lists stages for
 * the stage widget. Returns {el, read()} where read() gives the config object or throws FormError.
 */
export function schemaForm(schema, hints, value, ctx, prefix = "config.") {
  const readers = [];
  const el = h("div", { class: "schema-form" });
  const required = new Set(schema.required || []);
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const { node, nullable } = unwrap(schema, raw);
    const hint = (hints || {})[name] || {};
    const path = `${prefix}${name}`;
    const current = value && name in value ? value[name] : undefined;
    const built = control(schema, name, node, hint, current, ctx, path, nullable, required.has(name));
    el.append(built.el);
    readers.push([name, built.read]);
  }
  return {
    el,
    read() {
      const out = {};
      for (const [name, read] of readers) {
        const got = read();
        if (got !== undefined) out[name] = got;
      }
      return out;
    },
  };
}

function control(root, name, node, hint, current, ctx, path, nullable, isRequired) {
  const label = title(name, node);
  const help = node.description || "";
  const widget = hint.widget;
  if (widget === "stage") {
    const select = h("select", {}, h("option", { value: "" }, "Choose a stage…"),
      (ctx.stages || []).map((stage) => h("option", { value: stage.key }, stage.name)));
    select.value = current || "";
    return { el: fieldBox(path, label, select, help, { required: isRequired }), read: () => select.value || undefined };
  }
  if (widget === "template" || widget === "template-html" || widget === "sms") {
    const area = h("textarea", { rows: hint.rows || 3, class: "template-input", spellcheck: "false" });
    area.value = current ?? "";
    const box = fieldBox(path, label, area, help, { required: isRequired });
    if (ctx.templates) ctx.templates.adopt(area, box, { html: widget === "template-html", sms: widget === "sms" });
    return { el: box, read: () => (area.value === "" && !isRequired ? undefined : area.value) };
  }
  if (node.enum) {
    const select = h("select", {}, nullable || !isRequired && node.default === undefined ? h("option", { value: "" }, "—") : null,
      node.enum.map((option) => h("option", { value: option }, String(option).replace(/_/g, " "))));
    select.value = current ?? node.default ?? "";
    return { el: fieldBox(path, label, select, help, { required: isRequired }), read: () => (select.value === "" ? undefined : select.value) };
  }
  if (node.type === "boolean") {
    const box = h("input", { type: "checkbox" });
    box.checked = Boolean(current ?? node.default ?? false);
    return { el: fieldBox(path, label, box, help, { inline: true }), read: () => box.checked };
  }
  if (node.type === "integer" || node.type === "number") {
    const input = h("input", { type: "number", step: node.type === "integer" ? "1" : "any", min: node.minimum, max: node.maximum });
    input.value = current ?? node.default ?? "";
    return {
      el: fieldBox(path, label, input, help, { required: isRequired }),
      read: () => (input.value === "" ? undefined : Number(input.value)),
    };
  }
  if (node.type === "array") {
    const area = h("textarea", { rows: 3, placeholder: "one a line" });
    area.value = (current || []).join("\n");
    return {
      el: fieldBox(path, label, area, help || "One a line.", { required: isRequired }),
      read: () => {
        const items = area.value.split("\n").map((line) => line.trim()).filter(Boolean);
        return items.length || isRequired ? items : undefined;
      },
    };
  }
  if (node.type === "object" && node.properties) {
    const nested = schemaForm({ ...node, $defs: root.$defs }, {}, current || {}, ctx, `${path}.`);
    const box = h("fieldset", { class: "nested", dataset: { field: path } }, h("legend", {}, label), help ? h("p", { class: "help" }, help) : null,
      nested.el, h("p", { class: "field-error", role: "alert" }));
    return {
      el: box,
      read: () => {
        const got = nested.read();
        return Object.keys(got).length || isRequired ? got : undefined;
      },
    };
  }
  if (node.type === "object" && node.additionalProperties && node.additionalProperties.type === "string" || widget === "pairs") {
    const area = h("textarea", { rows: 3, placeholder: "key: value", class: hint.template ? "template-input" : "" });
    area.value = Object.entries(current || {}).map(([key, text]) => `${key}: ${text}`).join("\n");
    const box = fieldBox(path, label, area, help || "One \"key: value\" a line.", { required: isRequired });
    if (hint.template && ctx.templates) ctx.templates.adopt(area, box, { pairs: true });
    return {
      el: box,
      read: () => {
        const out = {};
        for (const line of area.value.split("\n")) {
          if (!line.trim()) continue;
          const at = line.indexOf(":");
          if (at < 1) throw new FormError(path, `"${line.trim()}" is not "key: value"`);
          out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        return Object.keys(out).length || isRequired ? out : undefined;
      },
    };
  }
  if (node.type === "object") {
    const area = h("textarea", { rows: 4, spellcheck: "false", class: "code" });
    area.value = current ? JSON.stringify(current, null, 2) : "";
    return {
      el: fieldBox(path, label, area, help || "A JSON object.", { required: isRequired }),
      read: () => {
        if (!area.value.trim()) return isRequired ? {} : undefined;
        try {
          return JSON.parse(area.value);
        } catch (error) {
          throw new FormError(path, `not valid JSON: ${error.message}`);
        }
      },
    };
  }
  const long = (node.maxLength || 0) > 500 || hint.rows > 1;
  const input = long ? h("textarea", { rows: hint.rows || 3 }) : h("input", { type: "text", maxlength: node.maxLength });
  input.value = current ?? (node.default ?? "");
  return {
    el: fieldBox(path, label, input, help, { required: isRequired }),
    read: () => (input.value === "" && !isRequired ? undefined : input.value),
  };
}

/** Put the API's field-level messages beside their inputs; returns the messages no input took. */
export function showErrors(container, fields) {
  for (const box of container.querySelectorAll(".field-error")) box.textContent = "";
  for (const box of container.querySelectorAll("[data-field].invalid")) box.classList.remove("invalid");
  const left = [];
  for (const { field, message } of fields || []) {
    let target = null;
    for (let path = field; path && !target; path = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "") {
      target = container.querySelector(`[data-field="${CSS.escape(path)}"]`);
    }
    const slot = target && target.querySelector(":scope > .field-error");
    if (slot) {
      slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
      target.classList.add("invalid");
    } else left.push(field ? `${field}: ${message}` : message);
  }
  const first = container.querySelector("[data-field].invalid input, [data-field].invalid textarea, [data-field].invalid select");
  if (first) first.focus();
  return left;
}
