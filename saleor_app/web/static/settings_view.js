// Settings: the shop's time zone (Saleor has none) and quiet hours for SMS and calls.
import { clear, h } from "./dom.js";
import { fieldBox, showErrors } from "./forms.js";

export async function renderSettings(ctx, view) {
  const settings = await ctx.api.get("/settings");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  const zone = h("input", { type: "text", list: "zones", value: settings.time_zone, autocomplete: "off" });
  const quietStart = h("input", { type: "time", value: settings.quiet_start || "" });
  const quietEnd = h("input", { type: "time", value: settings.quiet_end || "" });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, "Save");
  const form = h("form", { class: "card settings", novalidate: true, "aria-label": "Settings" },
    h("h2", {}, "Schedule"),
    fieldBox("time_zone", "Time zone", zone, "An IANA zone such as Europe/Berlin. Times of day in rules use it."),
    h("datalist", { id: "zones" }, zones.map((name) => h("option", { value: name }))),
    h("div", { class: "row" }, fieldBox("quiet_start", "Quiet hours from", quietStart, ""), fieldBox("quiet_end", "to", quietEnd, "")),
    h("p", { class: "help", dataset: { field: "quiet_hours" } }, "SMS and calls due in quiet hours wait until they end; nothing is dropped. Leave both empty for none.",
      h("span", { class: "field-error", role: "alert" })),
    error, h("div", { class: "savebar" }, h("span", { class: "spacer" }), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    save.disabled = true;
    try {
      await ctx.api.put("/settings", { time_zone: zone.value.trim(), quiet_start: quietStart.value || null, quiet_end: quietEnd.value || null });
      showErrors(form, []);
      ctx.notify("success", "Settings saved", "");
    } catch (failure) {
      error.textContent = showErrors(form, failure.fields || []).join(" ") || (failure.fields && failure.fields.length ? "" : failure.message);
      ctx.failed(failure);
    } finally {
      save.disabled = false;
    }
  });
  clear(view, h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Settings"), h("p", { class: "muted" }, "How this shop's automation keeps time."))), form);
}
