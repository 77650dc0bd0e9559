// Template fields in an editor: the field picker inserts variables where the cursor is, and every template is
// previewed live on a real order (by number) or the sample order; SMS text shows its length and segments.
import { clear, debounce, h } from "./dom.js";

export class Templates {
  constructor(ctx) {
    this.ctx = ctx;
    this.fields = [];
    this.last = null;
    this.orderInput = h("input", { type: "text", inputmode: "numeric", placeholder: "sample order", class: "order-pick", id: "preview-order" });
    this.orderInput.addEventListener("input", debounce(() => this.refreshAll(), 400));
  }

  adopt(area, box, { html = false, sms = false, pairs = false } = {}) {
    const output = h("div", { class: sms ? "preview preview-sms" : "preview", "aria-live": "polite" });
    box.append(output);
    const entry = { area, output, html, sms, pairs };
    this.fields.push(entry);
    area.addEventListener("focus", () => { this.last = area; });
    area.addEventListener("input", debounce(() => this.refresh(entry), 350));
    if (!this.last) this.last = area;
    if (area.value) setTimeout(() => this.refresh(entry), 0);
  }

  insert(path) {
    const area = this.last && this.last.isConnected ? this.last : (this.fields.find((f) => f.area.isConnected) || {}).area;
    if (!area) return;
    const text = `{{ ${path} }}`;
    const start = area.selectionStart ?? area.value.length;
    const end = area.selectionEnd ?? area.value.length;
    area.value = area.value.slice(0, start) + text + area.value.slice(end);
    area.focus();
    area.setSelectionRange(start + text.length, start + text.length);
    area.dispatchEvent(new Event("input", { bubbles: true }));
  }

  refreshAll() {
    for (const entry of this.fields) if (entry.area.value) this.refresh(entry);
  }

  async refresh(entry) {
    const source = entry.pairs ? entry.area.value.split("\n").map((line) => line.slice(line.indexOf(":") + 1).trim()).join("\n") : entry.area.value;
    if (!source.trim()) {
      clear(entry.output);
      return;
    }
    const order = this.orderInput.value.trim() || null;
    try {
      const result = entry.sms
        ? await this.ctx.api.post("/sms/preview", { text: source, order })
        : await this.ctx.api.post("/templates/preview", { template: source, order, html: entry.html });
      const problems = (result.problems || []).map((p) => h("li", {}, `line ${p.line}, column ${p.column}: ${p.message}`));
      const counter = entry.sms ? h("p", { class: result.overLimit ? "counter over" : "counter", dataset: { testid: "sms-counter" } },
        `${result.characters} / ${result.limit} characters · ${result.encoding} · ${result.segments} SMS part${result.segments === 1 ? "" : "s"}`) : null;
      clear(entry.output, h("p", { class: "preview-label" }, order ? `Preview on order #${order}` : "Preview on the sample order"),
        h("pre", { class: "preview-text" }, result.text), counter, problems.length ? h("ul", { class: "problems" }, problems) : null);
    } catch (error) {
      clear(entry.output, h("p", { class: "problems" }, error.message));
    }
  }

  /** The picker: filter the catalogue of variables, click (or Enter) inserts into the last template field. */
  picker() {
    const list = h("ul", { class: "picker-list", role: "listbox", "aria-label": "Template variables" });
    const filter = h("input", { type: "search", placeholder: "Find a variable…", "aria-label": "Find a variable" });
    const render = () => {
      const needle = filter.value.trim().toLowerCase();
      clear(list, this.ctx.catalogue.templateFields
        .filter((f) => !needle || f.path.includes(needle) || f.description.toLowerCase().includes(needle))
        .slice(0, 80)
        .map((f) => h("li", {}, h("button", { type: "button", class: "picker-item", title: f.description, dataset: { path: f.path },
          onmousedown: (event) => event.preventDefault(), onclick: () => this.insert(f.path) },
        h("code", {}, f.path), h("span", { class: "muted" }, f.example ? ` e.g. ${f.example}` : "")))));
    };
    filter.addEventListener("input", render);
    render();
    return h("div", { class: "picker" },
      h("div", { class: "field" }, h("label", { for: "preview-order" }, "Preview on order number"), this.orderInput),
      h("h3", {}, "Insert a variable"), filter, list);
  }
}
