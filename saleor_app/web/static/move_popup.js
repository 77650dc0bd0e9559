// TODO(issue 10): move this order.
import { clear, h } from "./dom.js";

export async function renderMovePopup(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Move to stage")));
}
