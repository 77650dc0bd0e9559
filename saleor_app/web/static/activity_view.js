// TODO(issue 10): the store-wide log of jobs, trigger firings and stage moves.
import { clear, h } from "./dom.js";

export async function renderActivity(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Activity")));
}
