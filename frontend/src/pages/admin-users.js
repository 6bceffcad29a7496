// Admin area, users: the list (roles, state, second factor, last sign-in),
// a new account with a one-time password shown once, disable/enable, a new
// one-time password, the second factors removed, global roles.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, t } from "../i18n.js";
import { Problem } from "../widgets.js";
import { ShownOnce } from "./admin-common.js";

const GLOBAL_ROLES = [
  { value: "admin", label: () => t("Administrator") },
  { value: "dpo", label: () => t("Data protection officer") },
  { value: "security", label: () => t("Security officer") },
];

function roleLabels(roles) {
  return roles.map((r) => GLOBAL_ROLES.find((g) => g.value === r)?.label() ?? r).join(", ");
}

const userUrl = (name, what = "") => `/admin/users/${encodeURIComponent(name)}${what}`;

export function AdminUsers() {
  const [users, setUsers] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [secret, setSecret] = useState(null); // {username, password}
  const [editing, setEditing] = useState(null);
  const load = () => api("GET", "/admin/users").then(setUsers, setError);
  useEffect(() => {
    load();
  }, []);
  const act = runner({ setError, setNotice, reload: load });

  const create = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const body = {
      username: String(data.get("username")).trim(),
      display_name: String(data.get("display_name")).trim(),
      email: String(data.get("email")).trim() || null,
      roles: data.getAll("roles").map(String),
      sso_only: data.get("sso_only") === "on",
    };
    act(async () => {
      const made = await api("POST", "/admin/users", { json: body });
      form.reset();
      setNotice(t("Account {name} created.", { name: made.user.username }));
      setSecret(made.one_time_password ? { username: made.user.username, password: made.one_time_password } : null);
    });
  };

  const toggle = (u) => {
    if (!u.disabled && !window.confirm(t("Disable the account of {name}? Their sessions and API tokens end at once.", { name: u.username }))) return;
    act(async () => {
      await api("POST", userUrl(u.username, u.disabled ? "/enable" : "/disable"));
      setNotice(u.disabled ? t("Account {name} enabled.", { name: u.username }) : t("Account {name} disabled.", { name: u.username }));
    });
  };

  const resetPassword = (u) => {
    if (!window.confirm(t("Give {name} a new one-time password? Their sessions and API tokens end at once.", { name: u.username }))) return;
    act(async () => {
      const got = await api("POST", userUrl(u.username, "/password"));
      setSecret({ username: u.username, password: got.one_time_password });
      setNotice(t("New one-time password for {name}.", { name: u.username }));
    });
  };

  const resetMfa = (u) => {
    if (!window.confirm(t("Remove the second factors of {name}? They set up a new one at their next sign-in.", { name: u.username }))) return;
    act(async () => {
      await api("POST", userUrl(u.username, "/mfa-reset"));
      setNotice(t("The second factors of {name} are removed.", { name: u.username }));
    });
  };

  const saveRoles = (u, e) => {
    e.preventDefault();
    const roles = new FormData(e.currentTarget).getAll("roles").map(String);
    act(async () => {
      await api("PUT", userUrl(u.username, "/roles"), { json: { roles } });
      setEditing(null);
      setNotice(t("Roles of {name} saved.", { name: u.username }));
    });
  };

  return html`
    <h2>${t("Users")}</h2>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${secret &&
    html`<${ShownOnce} id="one-time-password" value=${secret.password}
      label=${t("One-time password of {name}", { name: secret.username })}
      hint=${t("Give it to {name} in person or by telephone. It is shown only this once; they choose their own at the first sign-in.", { name: secret.username })} />
      <p><button type="button" class="secondary" onClick=${() => setSecret(null)}>${t("Done, hide it")}</button></p>`}
    ${users === null && !error && html`<p role="status">${t("Loading…")}</p>`}
    ${users?.length > 0 &&
    html`<table class="listing">
      <caption class="visually-hidden">${t("Users")}</caption>
      <thead><tr>
        <th scope="col">${t("User")}</th><th scope="col">${t("Roles")}</th>
        <th scope="col">${t("State")}</th><th scope="col">${t("Second factor")}</th>
        <th scope="col">${t("Last sign-in")}</th>
        <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
      </tr></thead>
      <tbody>${users.map((u) => html`<tr class=${editing === u.username ? "open" : ""}>
          <td><strong>${u.username}</strong>${u.display_name && html`<br /><span class="muted">${u.display_name}</span>`}
            ${u.email && html`<br /><span class="muted">${u.email}</span>`}</td>
          <td>${roleLabels(u.roles) || html`<span class="muted">${t("none")}</span>`}</td>
          <td>${u.disabled ? t("Disabled") : t("Active")}
            ${u.must_change_password && html`<br /><span class="muted">${t("must choose a password")}</span>`}
            ${u.sso_only && html`<br /><span class="muted">${t("single sign-on only")}</span>`}</td>
          <td>${u.mfa_enrolled ? t("Set up") : t("None")}</td>
          <td>${u.last_login_at ? formatDate(u.last_login_at) : html`<span class="muted">${t("never")}</span>`}</td>
          <td><div class="actions">
            <button type="button" class="secondary small" aria-expanded=${editing === u.username ? "true" : "false"}
              aria-label=${t("Roles of {name}", { name: u.username })}
              onClick=${() => setEditing(editing === u.username ? null : u.username)}>${t("Roles")}</button>
            ${!u.sso_only &&
            html`<button type="button" class="secondary small" onClick=${() => resetPassword(u)}
              aria-label=${t("Reset password of {name}", { name: u.username })}>${t("Reset password")}</button>`}
            ${u.mfa_enrolled &&
            html`<button type="button" class="secondary small" onClick=${() => resetMfa(u)}
              aria-label=${t("Reset second factor of {name}", { name: u.username })}>${t("Reset second factor")}</button>`}
            <button type="button" class=${u.disabled ? "secondary small" : "danger small"} onClick=${() => toggle(u)}
              aria-label=${u.disabled ? t("Enable {name}", { name: u.username }) : t("Disable {name}", { name: u.username })}>
              ${u.disabled ? t("Enable") : t("Disable")}</button>
          </div></td>
        </tr>
        ${editing === u.username &&
        html`<tr class="detail"><td colspan="6">
          <form class="inline" onSubmit=${(e) => saveRoles(u, e)}>
            <fieldset class="choices">
              <legend>${t("Global roles of {name}", { name: u.username })}</legend>
              ${GLOBAL_ROLES.map((r) => html`<label class="check">
                <input type="checkbox" name="roles" value=${r.value} checked=${u.roles.includes(r.value)} /> ${r.label()}
              </label>`)}
            </fieldset>
            <button type="submit">${t("Save")}</button>
            <button type="button" class="secondary" onClick=${() => setEditing(null)}>${t("Cancel")}</button>
          </form>
        </td></tr>`}`)}
      </tbody>
    </table>`}

    <h2>${t("New account")}</h2>
    <form class="card stack admin-form" onSubmit=${create}>
      <label for="new-username">${t("User name")}</label>
      <input id="new-username" name="username" required minlength="3" maxlength="64" autocomplete="off"
        aria-describedby="new-username-help" />
      <p id="new-username-help" class="muted">${t("3 to 64 characters: letters a to z, digits, '.', '_', '@' or '-'. For example jean.dupont.")}</p>
      <label for="new-display-name">${t("Full name")}</label>
      <input id="new-display-name" name="display_name" maxlength="200" autocomplete="off" />
      <label for="new-email">${t("E-mail address")}</label>
      <input id="new-email" name="email" type="email" maxlength="320" autocomplete="off" />
      <fieldset class="choices">
        <legend>${t("Global roles")}</legend>
        ${GLOBAL_ROLES.map((r) => html`<label class="check">
          <input type="checkbox" name="roles" value=${r.value} /> ${r.label()}
        </label>`)}
      </fieldset>
      <label class="check">
        <input type="checkbox" name="sso_only" /> ${t("Single sign-on only (no password)")}
      </label>
      <p class="muted">${t("Otherwise a one-time password is made and shown once; the user chooses their own at the first sign-in.")}</p>
      <button type="submit">${t("Create the account")}</button>
    </form>
  `;
}
