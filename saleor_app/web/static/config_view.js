// Automation as code: the configuration as YAML, exported and imported; an import is checked first and its
// problems are listed line by line before anything is applied.
import { clear, h } from "./dom.js";

const LOCATED = /^line (\d+), column (\d+): (.*)$/;

export async function renderConfig(ctx, view) {
  const yaml = await ctx.api.get("/config", { text: true });
  const exported = h("textarea", { class: "code", rows: 18, readonly: true, spellcheck: "false", "aria-label": "Current configuration (YAML)" });
  exported.value = yaml;
  const download = h("a", { class: "button-secondary", download: "order-automation.yaml", href: URL.createObjectURL(new Blob([yaml], { type: "application/yaml" })) }, "Download");
  const input = h("textarea", { class: "code", rows: 18, spellcheck: "false", "aria-label": "Configuration to import (YAML)", placeholder: "Paste a configuration (YAML) here, or start from the export." });
  const problems = h("ol", { class: "problems", "aria-label": "Problems" });
  const report = h("div", { class: "report", "aria-live": "polite" });
  const select = (line) => {
    const lines = input.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((sum, text) => sum + text.length + 1, 0);
    input.focus();
    input.setSelectionRange(start, start + (lines[line - 1] || "").length);
  };
  const run = async (dryRun) => {
    clear(problems);
    clear(report);
    try {
      const result = await ctx.api.request("PUT", `/config${dryRun ? "?dry_run=true" : ""}`, undefined,
        { rawBody: input.value, contentType: "application/yaml" });
      clear(report, h("h3", {}, dryRun ? "The import would change:" : "Imported:"), h("ul", {}, result.summary.map((line) => h("li", {}, line))));
      if (!dryRun) {
        ctx.notify("success", "Configuration imported", "");
        const fresh = await ctx.api.get("/config", { text: true });
        exported.value = fresh;
      }
    } catch (error) {
      if (error.status === 422) {
        clear(problems, error.message.split("\n").map((text) => {
          const found = LOCATED.exec(text);
          return h("li", { class: "problem" }, found
            ? [h("button", { type: "button", class: "link", onclick: () => select(Number(found[1])) }, `Line ${found[1]}, column ${found[2]}`), `: ${found[3]}`]
            : text);
        }));
        clear(report, h("p", { class: "form-error" }, "Nothing was changed. Fix these lines and check again:"));
      } else ctx.failed(error, "Could not import");
    }
  };
  clear(view,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Import / export"),
      h("p", { class: "muted" }, "The whole automation as one YAML file: keep it in version control, copy it between shops."))),
    h("div", { class: "two-columns" },
      h("section", { class: "card" }, h("div", { class: "card-head" }, h("h2", {}, "Export"), download), exported),
      h("section", { class: "card" }, h("h2", {}, "Import"), input,
        h("div", { class: "row" },
          h("button", { type: "button", class: "button-secondary", onclick: () => { input.value = exported.value; } }, "Start from the export"),
          h("span", { class: "spacer" }),
          h("button", { type: "button", class: "button-secondary", onclick: () => run(true) }, "Check"),
          h("button", { type: "button", class: "button-primary", onclick: () => run(false) }, "Import")),
        report, problems)));
}
