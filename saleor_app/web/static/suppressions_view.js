// Opt-outs: the e-mail addresses and phone numbers nothing is sent to — hard bounces and spam complaints (Postmark),
// STOP replies (Twilio) and those added by hand. Removing one means messages go to it again, so it asks first.
import { clear, h } from "./dom.js";
import { fieldBox, showErrors } from "./forms.js";
import { when } from "./tasks_view.js";

const CHANNELS = [["email", "E-mail"], ["phone", "Phone (SMS and calls)"]];
const SOURCES = { bounce: "Bounced", spam_complaint: "Complained", opt_out: "Opted out", manual: "Added by hand" };

export async function renderSuppressions(ctx, view, options = {}) {
  const items = await ctx.api.get("/suppressions");
  const filters = { channel: "", search: "", ...(ctx.suppressionFilters || {}) };
  ctx.suppressionFilters = filters;
  const reload = (focus) => renderSuppressions(ctx, view, { focus }).catch((error) => ctx.failed(error, "Could not load"));

  const channel = h("select", { id: "opt-channel" }, h("option", { value: "" }, "All channels"),
    CHANNELS.map(([value, label]) => h("option", { value }, label)));
  channel.value = filters.channel;
  const search = h("input", { type: "search", id: "opt-search", placeholder: "Address or reason", value: filters.search, autocomplete: "off" });
  const count = h("p", { class: "muted small", role: "status", id: "opt-count" });
  const body = h("tbody");
  const empty = h("div", { class: "empty-box" });
  const table = h("table", { class: "opt-table" },
    h("caption", { class: "people-sr" }, "Addresses nothing is sent to"),
    h("thead", {}, h("tr", {}, ["Channel", "Address", "Why", "Since", ""].map((title) => h("th", { scope: "col" }, title)))), body);
  const paint = () => {
    const needle = filters.search.trim().toLowerCase();
    const shown = items.filter((item) => (!filters.channel || item.channel === filters.channel)
      && (!needle || item.address.toLowerCase().includes(needle) || (item.reason || "").toLowerCase().includes(needle)));
    clear(body, shown.map((item) => row(ctx, item, reload)));
    count.textContent = items.length ? `${shown.length} of ${items.length}` : "";
    table.hidden = !shown.length;
    empty.hidden = shown.length > 0;
    empty.textContent = items.length ? "Nothing matches these filters." : "Nobody has opted out or bounced yet.";
  };
  channel.addEventListener("change", () => { filters.channel = channel.value; paint(); });
  search.addEventListener("input", () => { filters.search = search.value; paint(); });

  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Opt-outs"), h("p", { class: "muted" }, "E-mail addresses and phone numbers that get nothing from your rules: hard bounces, spam complaints, STOP replies and those you add."))),
    addForm(ctx, reload),
    h("div", { class: "people-filters", role: "search", "aria-label": "Filter opt-outs" },
      h("label", { class: "people-filter" }, h("span", {}, "Channel"), channel), h("label", { class: "people-filter people-search" }, h("span", {}, "Search"), search)),
    count, h("div", { class: "table-wrap" }, table), empty);
  paint();
  if (options.focus) {
    const target = view.querySelector(options.focus);
    if (target) target.focus();
  }
}

function addForm(ctx, reload) {
  const channel = h("select", {}, CHANNELS.map(([value, label]) => h("option", { value }, label)));
  const address = h("input", { type: "text", maxlength: 320, autocomplete: "off", placeholder: "name@example.com" });
  channel.addEventListener("change", () => { address.placeholder = channel.value === "phone" ? "+4915112345678" : "name@example.com"; });
  const reason = h("input", { type: "text", maxlength: 500, placeholder: "asked us by phone" });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, "Add");
  const form = h("form", { class: "card opt-form", novalidate: true, "aria-label": "Add an opt-out" },
    h("h2", {}, "Stop sending to someone"),
    h("div", { class: "form-grid" }, fieldBox("channel", "Channel", channel, ""), fieldBox("address", "Address or number", address, "", { required: true }),
      fieldBox("reason", "Reason", reason, "")),
    error, h("div", { class: "savebar" }, h("span", { class: "spacer" }), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    showErrors(form, []);
    if (!address.value.trim()) {
      showErrors(form, [{ field: "address", message: "Type the e-mail address or phone number." }]);
      return;
    }
    save.disabled = true;
    try {
      const added = await ctx.api.post("/suppressions", { channel: channel.value, address: address.value.trim(), reason: reason.value.trim() });
      ctx.notify(added.added ? "success" : "info", added.added ? "Added to the opt-outs" : "Already on the list", added.address);
      reload(`[data-address="${CSS.escape(`${added.channel}:${added.address}`)}"] button`);
    } catch (failure) {
      // The address is the only thing that can be wrong: show the message beside it.
      const fields = failure.fields && failure.fields.length ? failure.fields : (failure.status === 422 ? [{ field: "address", message: failure.message }] : []);
      error.textContent = showErrors(form, fields).join(" ") || (fields.length ? "" : failure.message);
      ctx.failed(failure);
    } finally {
      save.disabled = false;
    }
  });
  return form;
}

function row(ctx, item, reload) {
  const why = SOURCES[item.source] || item.source.replace(/_/g, " ");
  const cell = h("td", { class: "opt-remove" });
  const ask = h("button", { type: "button", class: "button-tertiary small", "aria-label": `Remove ${item.address}` }, "Remove");
  const keep = () => { clear(cell, ask); ask.focus(); };
  ask.addEventListener("click", () => {
    const confirm = h("button", { type: "button", class: "button-critical small", onclick: () => remove(confirm) }, "Remove, send again");
    const warning = h("div", { class: "confirm", role: "alertdialog", "aria-label": "Remove from the opt-outs?",
      onkeydown: (event) => { if (event.key === "Escape") keep(); } },
    h("p", { class: "confirm-text" }, `Messages to ${item.address} will be sent again by every rule.`),
    h("div", { class: "row" }, confirm, h("button", { type: "button", class: "button-secondary small", onclick: keep }, "Keep")));
    clear(cell, warning);
    confirm.focus();
  });
  const remove = async (button) => {
    button.disabled = true;
    try {
      await ctx.api.del(`/suppressions/${encodeURIComponent(item.channel)}/${encodeURIComponent(item.address)}`);
      ctx.notify("success", "Removed from the opt-outs", item.address);
      reload("#opt-search");
    } catch (error) {
      button.disabled = false;
      cell.append(h("p", { class: "form-error", role: "alert" }, error.message));
      ctx.failed(error, "Could not remove");
    }
  };
  cell.append(ask);
  return h("tr", { dataset: { address: `${item.channel}:${item.address}` } },
    h("td", { "data-label": "Channel" }, item.channel === "email" ? "E-mail" : "Phone"),
    h("td", { "data-label": "Address", class: "opt-address" }, item.address),
    h("td", { "data-label": "Why" }, h("span", { class: `pill source-${item.source}` }, why), item.reason ? h("span", { class: "muted small opt-reason" }, ` ${item.reason}`) : null),
    h("td", { "data-label": "Since" }, when(item.at)),
    cell);
}
