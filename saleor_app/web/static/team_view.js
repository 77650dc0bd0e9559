// The team directory: members (staff who opened the app, people added by hand, Saleor staff synced with
// MANAGE_STAFF) and groups, which rules name to assign tasks and send notices (a group takes turns).
import { clear, h, slug, uniqueKey } from "./dom.js";
import { fieldBox, showErrors } from "./forms.js";

const SOURCE = { dashboard: "opened the app", manual: "added by hand", saleor: "Saleor staff" };

export async function renderTeam(ctx, view, options = {}) {
  const team = await ctx.api.get("/team");
  const reload = (focus) => renderTeam(ctx, view, { focus }).catch((error) => ctx.failed(error, "Could not load"));
  const editor = h("div", { class: "people-editor", id: "team-editor" });
  const syncStatus = h("p", { class: "sync-status", role: "status", "aria-live": "polite" });
  const sync = h("button", { type: "button", class: "button-secondary" }, "Sync staff from Saleor");
  sync.addEventListener("click", () => syncStaff(ctx, sync, syncStatus, reload));
  const members = new Map(team.members.map((m) => [m.key, m]));
  clear(view,
    h("div", { class: "page-head" },
      h("div", {}, h("h1", {}, "Team"), h("p", { class: "muted" }, "The people rules assign tasks to and notify. Groups take turns (round robin), skipping whoever is away.")),
      sync,
      h("button", { type: "button", class: "button-primary", onclick: () => memberForm(ctx, editor, null, team, reload) }, "Add member")),
    syncStatus,
    editor,
    h("section", { class: "people-section", "aria-labelledby": "members-title" },
      h("div", { class: "section-head" }, h("h2", { id: "members-title" }, "Members"), h("span", { class: "muted small" }, String(team.members.length))),
      team.members.length ? h("ul", { class: "people-list", "aria-label": "Members" }, team.members.map((member) => memberRow(ctx, editor, member, team, reload)))
        : h("div", { class: "empty-box" }, "Nobody yet. Staff join when they open this page; add others (a warehouse phone, a courier) by hand.")),
    h("section", { class: "people-section", "aria-labelledby": "groups-title" },
      h("div", { class: "section-head" }, h("h2", { id: "groups-title" }, "Groups"),
        h("button", { type: "button", class: "button-secondary small", disabled: !team.members.length,
          onclick: () => groupForm(ctx, editor, null, team, reload) }, "New group")),
      team.groups.length ? h("ul", { class: "people-list", "aria-label": "Groups" }, team.groups.map((group) => groupRow(ctx, editor, group, members, team, reload)))
        : h("div", { class: "empty-box" }, "No groups. A group (“Packers”) lets a rule hand tasks out in turn.")));
  if (!team.staffSync) {
    syncStatus.append(h("span", { class: "muted" }, "Syncing Saleor's staff list needs the Manage staff permission for this app. "),
      h("button", { type: "button", class: "link", onclick: () => askForStaff(ctx) }, "Ask for it"));
  }
  if (options.focus) {
    const target = view.querySelector(options.focus);
    if (target) target.focus();
  }
}

async function syncStaff(ctx, button, status, reload) {
  button.disabled = true;
  clear(status, "Syncing…");
  try {
    const report = await ctx.api.post("/team/sync");
    ctx.notify("success", "Staff synced", `${report.added.length} added, ${report.updated.length} updated`);
    await reload();
    const again = document.querySelector(".sync-status");
    if (again) clear(again, `Synced: ${report.added.length} added, ${report.updated.length} updated.`);
  } catch (error) {
    button.disabled = false;
    clear(status, h("span", { class: "form-error", role: "alert" }, error.message),
      error.code === "no_permission" ? [" ", h("button", { type: "button", class: "link", onclick: () => askForStaff(ctx) }, "Ask for the permission")] : null);
    ctx.failed(error, "Could not sync the staff");
  }
}

/** The Dashboard asks the user to grant MANAGE_STAFF (AppBridge `requestPermissions`, Saleor 3.15+), then reopens
 * the app on this view. */
function askForStaff(ctx) {
  return ctx.bridge.dispatch("requestPermissions", { permissions: ["MANAGE_STAFF"], redirectPath: "/team" });
}

function memberRow(ctx, editor, member, team, reload) {
  const status = h("p", { class: "form-error", role: "alert" });
  const name = member.name || member.email || member.key;
  const act = async (call, done) => {
    status.textContent = "";
    try {
      await call();
      ctx.notify("success", done, name);
      reload(`[data-member="${CSS.escape(member.key)}"] button`);
    } catch (error) {
      status.textContent = error.message;
      ctx.failed(error, "Could not change the member");
    }
  };
  return h("li", { class: member.away ? "person away" : "person", dataset: { member: member.key } },
    h("div", { class: "person-main" },
      h("p", { class: "person-name" }, h("span", {}, name), member.away ? h("span", { class: "pill pill-away" }, "Away") : null,
        h("span", { class: "muted small" }, ` · ${SOURCE[member.source] || member.source}`)),
      h("p", { class: "muted small person-contact" }, [member.email, member.phone].filter(Boolean).join(" · ") || "no e-mail or phone"),
      status),
    h("div", { class: "person-actions" },
      h("button", { type: "button", class: "button-secondary small", "aria-label": `${member.away ? "Mark back" : "Mark away"}: ${name}`,
        onclick: () => act(() => ctx.api.post(`/team/members/${encodeURIComponent(member.key)}/away`, { away: !member.away }), member.away ? "Back" : "Marked away") },
      member.away ? "Back" : "Away"),
      h("button", { type: "button", class: "button-tertiary small", "aria-label": `Edit ${name}`, onclick: () => memberForm(ctx, editor, member, team, reload) }, "Edit"),
      h("button", { type: "button", class: "button-tertiary small", "aria-label": `Remove ${name}`,
        onclick: () => act(() => ctx.api.del(`/team/members/${encodeURIComponent(member.key)}`), "Member removed") }, "Remove")));
}

function memberForm(ctx, editor, member, team, reload) {
  const isNew = !member;
  const name = h("input", { type: "text", maxlength: 200, value: member ? member.name : "", autocomplete: "off" });
  const email = h("input", { type: "text", inputmode: "email", maxlength: 254, value: member ? member.email || "" : "", autocomplete: "off" });
  const phone = h("input", { type: "text", inputmode: "tel", maxlength: 32, value: member ? member.phone || "" : "", placeholder: "+4915112345678", autocomplete: "off" });
  const key = h("input", { type: "text", maxlength: 63, value: member ? member.key : "", readonly: !isNew });
  const taken = new Set(team.members.map((m) => m.key));
  let keyTouched = !isNew;
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => { if (!keyTouched) key.value = uniqueKey(slug(name.value, "member"), taken); });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, isNew ? "Add member" : "Save");
  const form = h("form", { class: "card people-form", novalidate: true, "aria-label": isNew ? "New member" : `Edit ${member.name || member.key}` },
    h("h2", {}, isNew ? "New member" : `Edit ${member.name || member.key}`),
    h("div", { class: "form-grid" },
      fieldBox("name", "Name", name, ""),
      fieldBox("key", "Key", key, "How rules name them; stays the same.", { required: true }),
      fieldBox("email", "E-mail", email, ""),
      fieldBox("phone", "Phone", phone, "With the country code. An e-mail or a phone is needed.")),
    error,
    h("div", { class: "savebar" }, h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-secondary", onclick: () => clear(editor) }, "Cancel"), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!key.value.trim()) key.value = uniqueKey(slug(name.value || email.value, "member"), taken);
    const saved = await saveForm(ctx, form, save, error, () => ctx.api.put(`/team/members/${encodeURIComponent(key.value.trim())}`, {
      name: name.value.trim(), email: email.value.trim() || null, phone: phone.value.trim() || null, away: member ? member.away : false }));
    if (!saved) return;
    ctx.notify("success", isNew ? "Member added" : "Member saved", name.value || key.value);
    clear(editor);
    reload(`[data-member="${CSS.escape(key.value.trim())}"] button`);
  });
  clear(editor, form);
  name.focus();
}

function groupRow(ctx, editor, group, members, team, reload) {
  const status = h("p", { class: "form-error", role: "alert" });
  const label = group.name || group.key;
  const remove = async () => {
    try {
      await ctx.api.del(`/team/groups/${encodeURIComponent(group.key)}`);
      ctx.notify("success", "Group deleted", label);
      reload("#groups-title");
    } catch (error) {
      status.textContent = error.message;
      ctx.failed(error, "Could not delete the group");
    }
  };
  return h("li", { class: "person group", dataset: { group: group.key } },
    h("div", { class: "person-main" },
      h("p", { class: "person-name" }, label, h("span", { class: "muted small" }, ` · ${group.members.length} in turn`)),
      h("ol", { class: "chips", "aria-label": `Members of ${label}, in turn order` }, group.members.map((key) => {
        const member = members.get(key);
        return h("li", { class: member && member.away ? "chip away" : "chip" }, member ? member.name || member.email || key : key,
          member && member.away ? " (away)" : "");
      })),
      status),
    h("div", { class: "person-actions" },
      h("button", { type: "button", class: "button-tertiary small", "aria-label": `Edit group ${label}`, onclick: () => groupForm(ctx, editor, group, team, reload) }, "Edit"),
      h("button", { type: "button", class: "button-tertiary small", "aria-label": `Delete group ${label}`, onclick: remove }, "Delete")));
}

function groupForm(ctx, editor, group, team, reload) {
  const isNew = !group;
  const name = h("input", { type: "text", maxlength: 200, value: group ? group.name : "" });
  const key = h("input", { type: "text", maxlength: 63, value: group ? group.key : "", readonly: !isNew });
  const taken = new Set(team.groups.map((g) => g.key));
  let keyTouched = !isNew;
  key.addEventListener("input", () => { keyTouched = true; });
  name.addEventListener("input", () => { if (!keyTouched) key.value = uniqueKey(slug(name.value, "group"), taken); });
  // The turn order is the group's own; members ticked now join at the end.
  const chosen = group ? [...group.members] : [];
  const boxes = team.members.map((member) => {
    const box = h("input", { type: "checkbox", value: member.key, checked: chosen.includes(member.key) });
    box.addEventListener("change", () => {
      const at = chosen.indexOf(member.key);
      if (box.checked && at === -1) chosen.push(member.key);
      if (!box.checked && at !== -1) chosen.splice(at, 1);
    });
    return h("label", { class: "check-row" }, box, member.name || member.email || member.key);
  });
  const error = h("p", { class: "form-error", role: "alert" });
  const save = h("button", { type: "submit", class: "button-primary" }, isNew ? "Create group" : "Save");
  const title = isNew ? "New group" : `Edit group ${group.name || group.key}`;
  const form = h("form", { class: "card people-form", novalidate: true, "aria-label": title },
    h("h2", {}, title),
    h("div", { class: "form-grid" }, fieldBox("name", "Name", name, "", { required: true }),
      fieldBox("key", "Key", key, "How rules name it; stays the same.", { required: true })),
    h("fieldset", { class: "nested", dataset: { field: "members" } }, h("legend", {}, "Members (they take turns)"),
      h("div", { class: "member-checks" }, boxes), h("p", { class: "field-error", role: "alert" })),
    error,
    h("div", { class: "savebar" }, h("span", { class: "spacer" }),
      h("button", { type: "button", class: "button-secondary", onclick: () => clear(editor) }, "Cancel"), save));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!key.value.trim()) key.value = uniqueKey(slug(name.value, "group"), taken);
    if (!chosen.length) {
      showErrors(form, [{ field: "members", message: "Tick at least one member." }]);
      return;
    }
    const saved = await saveForm(ctx, form, save, error,
      () => ctx.api.put(`/team/groups/${encodeURIComponent(key.value.trim())}`, { name: name.value.trim(), members: chosen }));
    if (!saved) return;
    ctx.notify("success", isNew ? "Group created" : "Group saved", name.value || key.value);
    clear(editor);
    reload(`[data-group="${CSS.escape(key.value.trim())}"] button`);
  });
  clear(editor, form);
  name.focus();
}

/** Send a form: its button waits, the API's field errors go beside their inputs, anything else under the form. */
async function saveForm(ctx, form, save, error, request) {
  save.disabled = true;
  try {
    await request();
    showErrors(form, []);
    return true;
  } catch (failure) {
    error.textContent = showErrors(form, failure.fields || []).join(" ") || (failure.fields && failure.fields.length ? "" : failure.message);
    ctx.failed(failure);
    return false;
  } finally {
    save.disabled = false;
  }
}
