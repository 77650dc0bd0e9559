// TODO(issue 10): named, reusable action lists.
import { clear, h } from "./dom.js";

export async function renderWorkflows(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Workflows")));
}
