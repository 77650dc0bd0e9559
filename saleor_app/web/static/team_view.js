// TODO(issue 10): the team directory and groups.
import { clear, h } from "./dom.js";

export async function renderTeam(ctx, view) {
  clear(view, h("div", { class: "page-head" }, h("h1", {}, "Team")));
}
