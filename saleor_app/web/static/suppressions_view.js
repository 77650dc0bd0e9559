// TODO(issue 10): addresses and numbers that get nothing.
import { clear, h } from "./dom.js";

export async function renderSuppressions(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Opt-outs")));
}
