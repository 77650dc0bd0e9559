// Settings: the shop's time zone (Saleor has none), quiet hours for SMS and calls, and the failure alerts (the
// daily digest of dead and unknown jobs, and when they were last reported to Saleor as app problems).
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
  const alerts = await alertsCard(ctx);
  clear(view, h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Settings"), h("p", { class: "muted" }, "How this shop's automation keeps time and tells you when it fails."))), form, alerts);
}

const pad = (n) => String(n).padStart(2, "0");

function when(iso) {
  const date = iso ? new Date(iso) : null;
  return date && !Number.isNaN(date.getTime()) ? date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** The "Failure alerts" card: the daily digest's settings, a test send, and what was last sent or reported. */
async function alertsCard(ctx) {
  const [settings, team] = await Promise.all([ctx.api.get("/alerts/settings"), ctx.api.get("/team")]);
  const enabled = h("input", { type: "checkbox", checked: settings.digest_enabled });
  const chosen = new Set(settings.recipients);
  const boxes = team.members.map((member) => {
    const box = h("input", { type: "checkbox", value: member.key, checked: chosen.has(member.key), disabled: !member.email && !chosen.has(member.key) });
    const label = member.name ? `${member.name} (${member.email || "no e-mail address"})` : member.email || `${member.key} (no e-mail address)`;
    return h("label", { class: "check" }, box, label);
  });
  const known = new Set(team.members.map((member) => member.key));
  const missing = settings.recipients.filter((key) => !known.has(key)); // removed from the team since
  const recipients = h("fieldset", { class: "nested", dataset: { field: "recipients" } },
    h("legend", {}, "Send it to"),
    boxes.length ? h("div", { class: "alert-recipients" }, boxes)
      : h("p", { class: "help" }, "Nobody is in the team directory yet: add members under Team (everyone who opens this app joins it)."),
    missing.length ? h("p", { class: "help" }, `No longer in the team: ${missing.join(", ")}. Saving drops them.`) : null,
    h("p", { class: "field-error", role: "alert" }));
  const hour = h("select", {}, Array.from({ length: 24 }, (_, n) => h("option", { value: String(n) }, `${pad(n)}:00`)));
  hour.value = String(settings.digest_hour);
  const dashboard = h("input", { type: "text", value: settings.dashboard_url || "", placeholder: settings.default_dashboard_url, autocomplete: "off" });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, "Save");
  const test = h("button", { type: "button", class: "button-secondary" }, "Send a test digest now");
  const status = h("dl", { class: "alert-status", "aria-live": "polite" });
  showStatus(status, settings);
  const form = h("form", { class: "card alerts-settings", novalidate: true, "aria-labelledby": "alerts-title" },
    h("h2", { id: "alerts-title" }, "Failure alerts"),
    h("p", { class: "help" }, "Jobs that failed for good or may not have been sent show in a banner on every tab and in Saleor's app list. The digest is one e-mail a day, only when there is something to report."),
    fieldBox("digest_enabled", "Send a daily digest of failed jobs by e-mail", enabled, "", { inline: true }),
    recipients,
    fieldBox("digest_hour", "Send it from", hour, `The hour of day in the shop's time zone (${settings.time_zone}). It goes at or after it, at most once a day.`),
    fieldBox("dashboard_url", "Dashboard address", dashboard, `For the link in the e-mail. Leave empty for ${settings.default_dashboard_url} (Saleor Cloud).`),
    status, error, h("div", { class: "savebar" }, test, h("span", { class: "spacer" }), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    save.disabled = true;
    try {
      const saved = await ctx.api.put("/alerts/settings", {
        digest_enabled: enabled.checked, digest_hour: Number(hour.value), dashboard_url: dashboard.value.trim() || null,
        recipients: boxes.map((label) => label.querySelector("input")).filter((box) => box.checked).map((box) => box.value),
      });
      showErrors(form, []);
      showStatus(status, saved);
      ctx.notify("success", "Failure alerts saved", "");
    } catch (failure) {
      error.textContent = showErrors(form, failure.fields || []).join(" ") || (failure.fields && failure.fields.length ? "" : failure.message);
      ctx.failed(failure);
    } finally {
      save.disabled = false;
    }
  });
  test.addEventListener("click", async () => {
    error.textContent = "";
    test.disabled = true;
    try {
      const sent = await ctx.api.post("/alerts/digest/test");
      ctx.notify("success", "Test digest sent", `Sent to ${sent.to}.`);
    } catch (failure) {
      error.textContent = failure.message;
      ctx.failed(failure, "Test digest not sent");
    } finally {
      test.disabled = false;
    }
  });
  return form;
}

function showStatus(list, settings) {
  const digest = settings.digest || {};
  const problems = settings.problems || {};
  const open = Object.entries(problems.open || {}).map(([key, value]) => `${key} (${value.count})`);
  clear(list,
    h("dt", {}, "Last digest"),
    h("dd", { class: digest.failed ? "failed" : "" }, digest.day ? `${when(digest.at)}: ${digest.outcome}` : "None sent yet."),
    h("dt", {}, "Last reported to Saleor"),
    h("dd", {}, problems.reportedAt ? `${when(problems.reportedAt)}${open.length ? `; open: ${open.join(", ")}` : "; nothing open"}` : "Not reported yet."),
    problems.error ? h("dd", { class: "failed" }, `The last report did not reach Saleor (retried): ${problems.error}`) : null);
}
