// The "Move to stage…" popup (ORDER_DETAILS_MORE_ACTIONS, POPUP target): choose a stage, see what the move will
// ask Saleor to do, confirm; then the Dashboard re-reads the order and closes the popup. Cancel just closes it.
import { ApiFailure } from "./api.js";
import { clear, h } from "./dom.js";
import { capital, orderPath, stagePill, stageSelect } from "./order_widget.js";

export async function renderMovePopup(ctx, view) {
  const data = await ctx.api.get(orderPath(ctx, "/automation"));
  const current = data.stage ? data.stage.key : null;
  const select = stageSelect("p-stage", data.stages, current);
  const preview = h("div", { class: "p-preview", id: "p-preview", "aria-live": "polite" });
  const error = h("p", { class: "form-error", id: "p-error", role: "alert" });
  const confirm = h("button", { type: "submit", class: "button-primary", id: "p-confirm", disabled: true }, "Move");
  let answer = null;

  const look = async () => {
    answer = null;
    confirm.disabled = true;
    error.textContent = "";
    clear(preview, h("p", { class: "muted" }, "Asking Saleor what this move needs…"));
    try {
      answer = await ctx.api.get(orderPath(ctx, `/move?stage=${encodeURIComponent(select.value)}`));
    } catch (failure) {
      clear(preview);
      error.textContent = failure.message;
      return;
    }
    if (answer.stage !== select.value) return; // a later choice is on its way
    confirm.disabled = !answer.possible;
    confirm.textContent = `Move to ${answer.name}`;
    clear(preview,
      h("h2", {}, "What will happen"),
      h("p", { class: answer.possible ? "p-would" : "form-error" }, capital(answer.wouldDo)),
      answer.rules.length ? h("p", { class: "muted" }, `Then the rules of ${answer.name} run: ${answer.rules.join(", ")}.`)
        : h("p", { class: "muted" }, `${answer.name} has no rules to run.`));
  };

  const submit = async (event) => {
    event.preventDefault();
    if (!answer || !answer.possible) return;
    confirm.disabled = true;
    error.textContent = "";
    try {
      const result = await ctx.api.post(orderPath(ctx, "/move"), { stage: answer.stage });
      const done = result.state === "succeeded";
      ctx.notify(done ? "success" : "warning", done ? `Order moved to ${answer.name}` : "Saleor did not answer yet",
        done ? result.message.replace(/^succeeded: /, "") : "The app keeps trying; the order moves once Saleor answers.");
      await ctx.bridge.refreshEntity();
      await ctx.bridge.popupClose();
    } catch (failure) {
      error.textContent = failure instanceof ApiFailure ? failure.message : String(failure);
      confirm.disabled = false;
    }
  };

  select.addEventListener("change", look);
  clear(view, h("form", { class: "popup", id: "move-popup", "aria-labelledby": "p-title", onsubmit: submit },
    h("h1", { id: "p-title" }, `Move order #${data.order.number || ""} to another stage`),
    h("p", { class: "p-now" }, "Now in ", current ? stagePill(data.stages, current, data.stage.name) : h("span", { class: "muted" }, "no stage")),
    h("div", { class: "field" }, h("label", { for: "p-stage" }, "Move to"), select),
    preview, error,
    h("div", { class: "p-actions" },
      h("button", { type: "button", class: "button-secondary", id: "p-cancel", onclick: () => ctx.bridge.popupClose() }, "Cancel"),
      confirm)));
  select.focus();
  await look();
}
