// Event rules: rules bound to an event instead of a stage (every new order, every tracking number…).
import { ruleCard } from "./board.js";
import { clear, h } from "./dom.js";
import { openRuleEditor } from "./rule_editor.js";

export async function renderEventRules(ctx, view) {
  ctx.board = await ctx.api.get("/board");
  const drawer = h("div", { class: "drawer", id: "drawer", hidden: true });
  const reload = () => renderEventRules(ctx, view).catch((error) => ctx.failed(error, "Could not load"));
  const rules = ctx.board.eventRules;
  const groups = new Map();
  for (const rule of rules) groups.set(rule.event, [...(groups.get(rule.event) || []), rule]);
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Event rules"), h("p", { class: "muted" }, "Rules that run each time an event happens, whatever stage the order is in.")),
      h("button", { type: "button", class: "button-primary", onclick: () => openRuleEditor(ctx, drawer, { defaults: { event: "order_created" }, onSaved: reload }) }, "Add event rule")),
    rules.length ? h("div", { class: "event-groups" }, [...groups.entries()].map(([event, list]) => h("section", { class: "card" },
      h("h2", {}, (ctx.catalogue.events.find((e) => e.name === event) || { label: event }).label),
      h("ol", { class: "rules" }, list.map((rule, index) => ruleCard(ctx, null, rule, index, drawer, reload))))))
      : h("div", { class: "empty-box" }, "No event rules yet. Add one to, for example, thank every new customer or alert the team when a payment fails."),
    drawer);
}
