// TODO(issue 10): open tasks for the team.
import { clear, h } from "./dom.js";

export async function renderTasks(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Tasks")));
}
