// TODO(issue 10): this order's stage and timeline.
import { clear, h } from "./dom.js";

export async function renderOrderWidget(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Automation")));
}
