// Tasks for the team, created by task rules: who, when due (overdue marked), priority and the order. Completing one
// fires its `task_completed` triggers and event rules (the order may move); cancelling one fires nothing.
import { clear, h } from "./dom.js";

const STATES = [["open", "Open"], ["done", "Done"], ["cancelled", "Cancelled"], ["", "All"]];
const PRIORITY = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };

export function when(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The Dashboard opens the order (the iframe may not navigate the top window: PLATFORM.md §7.1). */
export function openOrder(ctx, orderId) {
  return ctx.bridge.dispatch("redirect", { to: `/orders/${encodeURIComponent(orderId)}` });
}

export async function renderTasks(ctx, view, options = {}) {
  const { focus, ...chosen } = options;
  const filters = { state: "open", assignee: "", ...(ctx.taskFilters || {}), ...chosen };
  ctx.taskFilters = filters;
  const query = new URLSearchParams();
  if (filters.state) query.set("state", filters.state);
  if (filters.assignee) query.set("assignee", filters.assignee);
  const [team, page] = await Promise.all([ctx.api.get("/team"), ctx.api.get(`/tasks?${query}`)]);
  const reload = (focus) => renderTasks(ctx, view, { focus }).catch((error) => ctx.failed(error, "Could not load"));

  const member = h("select", { id: "task-member" }, h("option", { value: "" }, "Everyone"),
    team.members.map((m) => h("option", { value: m.key }, m.name || m.email || m.key)));
  member.value = filters.assignee;
  const state = h("select", { id: "task-state" }, STATES.map(([value, label]) => h("option", { value }, label)));
  state.value = filters.state;
  member.addEventListener("change", () => renderTasks(ctx, view, { assignee: member.value, focus: "task-member" }).catch((e) => ctx.failed(e, "Could not load")));
  state.addEventListener("change", () => renderTasks(ctx, view, { state: state.value, focus: "task-state" }).catch((e) => ctx.failed(e, "Could not load")));

  const list = h("ul", { class: "task-list", "aria-label": "Tasks" });
  const more = h("button", { type: "button", class: "button-secondary", hidden: !page.next }, "Load more");
  let next = page.next;
  more.addEventListener("click", async () => {
    query.set("before", String(next));
    try {
      const older = await ctx.api.get(`/tasks?${query}`);
      list.append(...older.tasks.map((task) => taskRow(ctx, task, reload)));
      next = older.next;
      more.hidden = !next;
    } catch (error) {
      ctx.failed(error, "Could not load");
    }
  });
  list.append(...page.tasks.map((task) => taskRow(ctx, task, reload)));
  const count = page.tasks.length;
  const noun = filters.state === "open" ? "open task" : "task";
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Tasks"), h("p", { class: "muted" }, "Work for your team that task rules created. Completing a task can move its order on."))),
    h("div", { class: "people-filters", role: "search", "aria-label": "Filter tasks" },
      h("label", { class: "people-filter" }, h("span", {}, "Assigned to"), member), h("label", { class: "people-filter" }, h("span", {}, "Show"), state)),
    h("p", { class: "muted small", role: "status", id: "task-count" }, count === 0 ? "" : `${count}${next ? "+" : ""} ${noun}${count === 1 ? "" : "s"}`),
    count ? list : h("div", { class: "empty-box" }, filters.state === "open"
      ? "No open tasks. A rule of the kind “Create task” adds them when orders enter its stage."
      : "No tasks match these filters."),
    more);
  if (focus) (view.querySelector(`#${focus}`) || view.querySelector("h1")).focus();
}

function taskRow(ctx, task, reload) {
  const overdue = task.overdue;
  const status = h("p", { class: "form-error", role: "alert" });
  const close = async (action, button) => {
    button.disabled = true;
    status.textContent = "";
    try {
      await ctx.api.post(`/tasks/${task.id}/${action}`);
      ctx.notify("success", action === "complete" ? "Task completed" : "Task cancelled", task.title);
      reload("task-count");
    } catch (error) {
      button.disabled = false;
      status.textContent = error.message;
      ctx.failed(error, action === "complete" ? "Could not complete the task" : "Could not cancel the task");
    }
  };
  const order = task.orderNumber ? `Order #${task.orderNumber}` : "The order";
  return h("li", { class: `task-card task-${task.state}${overdue ? " overdue" : ""}`, dataset: { task: String(task.id) } },
    h("div", { class: "task-main" },
      h("div", { class: "task-title-row" },
        h("h2", { class: "task-title" }, task.title),
        h("span", { class: `priority priority-${task.priority}` }, PRIORITY[task.priority] || task.priority),
        task.state === "open" ? null : h("span", { class: `pill state-${task.state}` }, task.state === "done" ? "Done" : "Cancelled")),
      task.description ? h("p", { class: "muted task-description" }, task.description) : null,
      h("dl", { class: "task-meta" },
        h("div", {}, h("dt", {}, "Order"), h("dd", {}, h("button", { type: "button", class: "link order-link",
          "aria-label": `Open ${order.toLowerCase()} in the Dashboard`, onclick: () => openOrder(ctx, task.order) }, order))),
        h("div", {}, h("dt", {}, "Assignee"), h("dd", { class: "assignee" }, task.assigneeLabel || task.assignee || "Nobody")),
        h("div", {}, h("dt", {}, "Due"), h("dd", { class: "due" }, task.dueAt ? when(task.dueAt) : "No due date",
          overdue ? h("span", { class: "badge-overdue" }, "Overdue") : null)),
        task.closedAt ? h("div", {}, h("dt", {}, task.state === "done" ? "Done" : "Cancelled"),
          h("dd", {}, `${when(task.closedAt)}${task.closedBy ? ` by ${task.closedBy}` : ""}`)) : null),
      status),
    task.state === "open" ? h("div", { class: "task-actions" },
      h("button", { type: "button", class: "button-primary small", "aria-label": `Complete task: ${task.title}`,
        onclick: (event) => close("complete", event.currentTarget) }, "Complete"),
      h("button", { type: "button", class: "button-secondary small", "aria-label": `Cancel task: ${task.title}`,
        onclick: (event) => close("cancel", event.currentTarget) }, "Cancel task")) : null);
}
