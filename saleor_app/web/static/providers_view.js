// Providers: connect Postmark, SMTP and Twilio, test the connection, and choose senders. Secrets are write-only:
// the page shows that one is stored, never any of its characters; an empty secret input keeps the stored one.
import { clear, h, slug, uniqueKey } from "./dom.js";
import { fieldBox } from "./forms.js";

const STATUS = { connected: "Connected", failed: "Connection failed", unchecked: "Not checked yet" };

export async function renderProviders(ctx, view) {
  const [accounts, forms] = await Promise.all([ctx.api.get("/providers"), ctx.api.get("/provider-forms")]);
  const reload = () => renderProviders(ctx, view).catch((error) => ctx.failed(error, "Could not load"));
  const editor = h("div", { class: "provider-editor" });
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Providers"), h("p", { class: "muted" }, "Where emails, SMS and calls go out from.")),
      h("details", { class: "menu menu-right" }, h("summary", { class: "button-primary" }, "Connect a provider"),
        h("div", { class: "menu-body" }, forms.kinds.map((kind) => h("button", { type: "button", class: "button-secondary",
          onclick: (event) => {
            event.target.closest("details").open = false;
            openForm(ctx, editor, forms, kind, null, accounts, reload);
          } }, kind.label))))),
    editor,
    accounts.length ? h("div", { class: "provider-list" }, accounts.map((account) => accountCard(ctx, editor, forms, account, accounts, reload)))
      : h("div", { class: "empty-box" }, "No provider yet. Connect Postmark or an SMTP server to send emails, and Twilio for SMS and calls."));
}

function accountCard(ctx, editor, forms, account, accounts, reload) {
  const kind = forms.kinds.find((k) => k.kind === account.kind) || { label: account.kind, credentials: [] };
  const stored = forms.stored[account.key] || {};
  const check = async () => {
    try {
      const checked = await ctx.api.post(`/providers/${encodeURIComponent(account.key)}/check`, {});
      ctx.notify(checked.status === "connected" ? "success" : "error", checked.status === "connected" ? "Connection works" : "Connection failed", checked.statusMessage);
      reload();
    } catch (error) {
      ctx.failed(error, "Could not test");
    }
  };
  const remove = async () => {
    try {
      await ctx.api.del(`/providers/${encodeURIComponent(account.key)}`);
      ctx.notify("success", "Provider removed", account.name || account.key);
      reload();
    } catch (error) {
      ctx.failed(error, "Could not remove");
    }
  };
  return h("section", { class: "card provider", dataset: { provider: account.key } },
    h("div", { class: "card-head" }, h("h2", {}, account.name || account.key, h("span", { class: "muted" }, ` · ${kind.label}`)),
      h("span", { class: `status status-${account.status}` }, STATUS[account.status] || account.status)),
    account.statusMessage ? h("p", { class: account.status === "failed" ? "form-error" : "muted" }, account.statusMessage) : null,
    h("dl", { class: "secrets" }, kind.credentials.filter((field) => stored[field.name]).map((field) => [
      h("dt", {}, field.label), h("dd", {}, h("code", {}, stored[field.name]))])),
    account.senders.length ? h("div", {}, h("h3", {}, "Senders"), h("ul", { class: "senders" }, account.senders.map((sender) => {
      const box = h("input", { type: "checkbox", role: "switch", checked: sender.enabled, "aria-label": `Use ${sender.address}` });
      box.addEventListener("change", async () => {
        try {
          await ctx.api.put(`/providers/${encodeURIComponent(account.key)}/senders/${encodeURIComponent(sender.address)}`, { enabled: box.checked });
        } catch (error) {
          box.checked = !box.checked;
          ctx.failed(error);
        }
      });
      return h("li", {}, h("label", { class: "switch" }, box, h("span", { class: "slider", "aria-hidden": "true" })),
        h("span", {}, sender.address), sender.name ? h("span", { class: "muted" }, ` ${sender.name}`) : null);
    }))) : null,
    h("div", { class: "row" },
      h("button", { type: "button", class: "button-secondary", onclick: check }, "Test connection"),
      h("button", { type: "button", class: "button-secondary", onclick: () => openForm(ctx, editor, forms, kind, account, accounts, reload) }, "Edit"),
      h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-tertiary", onclick: remove }, "Remove")));
}

function openForm(ctx, editor, forms, kind, account, accounts, reload) {
  const stored = account ? forms.stored[account.key] || {} : {};
  const name = h("input", { type: "text", maxlength: 200, value: account ? account.name : kind.label });
  const inputs = {};
  const credentialBoxes = kind.credentials.map((field) => {
    const input = h("input", { type: field.secret ? "password" : "text", autocomplete: "off", spellcheck: "false",
      value: field.secret ? "" : stored[field.name] || "", placeholder: field.secret && stored[field.name] ? "stored (empty keeps it)" : "" });
    inputs[`credentials.${field.name}`] = input;
    return fieldBox(`credentials.${field.name}`, field.label, input, field.help || "", { required: field.required });
  });
  const settingBoxes = kind.settings.map((field) => {
    const current = account ? account.settings[field.name] : undefined;
    let input;
    if (field.choices) {
      input = h("select", {}, field.choices.map((choice) => h("option", { value: choice }, choice)));
      input.value = current || field.choices[0];
    } else if (field.widget === "lines") {
      input = h("textarea", { rows: 3 });
      input.value = (current || []).map((item) => (typeof item === "string" ? item : item.address)).join("\n");
    } else {
      input = h("input", { type: field.widget === "number" ? "number" : "text", placeholder: field.placeholder || "", value: current ?? "" });
    }
    inputs[`settings.${field.name}`] = input;
    return fieldBox(`settings.${field.name}`, field.label, input, field.help || "", { required: field.required });
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, account ? "Save and test" : "Connect and test");
  const form = h("form", { class: "card", novalidate: true, "aria-label": `${kind.label} connection` },
    h("h2", {}, account ? `Edit ${account.name || account.key}` : `Connect ${kind.label}`),
    fieldBox("name", "Name", name, "Your name for this connection."),
    h("h3", {}, "Credentials"), credentialBoxes, settingBoxes.length ? [h("h3", {}, "Settings"), settingBoxes] : null,
    error,
    h("div", { class: "savebar" }, h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-secondary", onclick: () => clear(editor) }, "Cancel"), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const credentials = {};
    const settings = {};
    for (const [path, input] of Object.entries(inputs)) {
      const [section, field] = path.split(".");
      const value = input.value.trim();
      if (section === "credentials") {
        if (value) credentials[field] = value;
      } else if (field === "mailboxes") {
        settings[field] = value.split("\n").map((line) => line.trim()).filter(Boolean);
      } else if (value) settings[field] = input.type === "number" ? Number(value) : value;
    }
    const key = account ? account.key : uniqueKey(slug(`${kind.kind}-${name.value}`, kind.kind), new Set(accounts.map((a) => a.key)));
    const body = { kind: kind.kind, name: name.value.trim(), settings };
    if (Object.keys(credentials).length || !account) body.credentials = credentials;
    save.disabled = true;
    try {
      const saved = await ctx.api.put(`/providers/${encodeURIComponent(key)}`, body);
      ctx.notify(saved.status === "connected" ? "success" : "warning", saved.status === "connected" ? "Provider connected" : "Saved, but the connection failed", saved.statusMessage);
      clear(editor);
      reload();
    } catch (failure) {
      error.textContent = failure.message;
      ctx.failed(failure);
    } finally {
      save.disabled = false;
    }
  });
  clear(editor, form);
  name.focus();
}
