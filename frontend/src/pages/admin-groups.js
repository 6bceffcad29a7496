// Admin area, groups: the list, a new group, its members added and removed,
// a group deleted (with its memberships and every role given to it).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { t } from "../i18n.js";
import { Problem } from "../widgets.js";

const groupUrl = (name, rest = "") => `/admin/groups/${encodeURIComponent(name)}${rest}`;

export function AdminGroups() {
  const [groups, setGroups] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [open, setOpen] = useState(null);
  const load = () => api("GET", "/admin/groups").then(setGroups, setError);
  useEffect(() => {
    load();
  }, []);
  const act = runner({ setError, setNotice, reload: load });

  const create = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const name = String(data.get("name")).trim();
    act(async () => {
      const made = await api("POST", "/admin/groups", {
        json: { name, description: String(data.get("description")).trim() },
      });
      form.reset();
      setOpen(made.name);
      setNotice(t("Group {name} created. Add its members below.", { name: made.name }));
    });
  };

  const remove = (g) => {
    if (!window.confirm(t("Delete the group {name}? Its members lose the roles given to the group.", { name: g.name }))) return;
    act(async () => {
      await api("DELETE", groupUrl(g.name));
      setNotice(t("Group {name} deleted.", { name: g.name }));
    });
  };

  return html`
    <h2>${t("Groups")}</h2>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${groups === null && !error && html`<p role="status">${t("Loading…")}</p>`}
    ${groups?.length === 0 && html`<p class="muted">${t("No group yet. A group gives the same role to several people at once.")}</p>`}
    ${groups?.length > 0 &&
    html`<table class="listing">
      <caption class="visually-hidden">${t("Groups")}</caption>
      <thead><tr>
        <th scope="col">${t("Group")}</th><th scope="col">${t("Description")}</th>
        <th scope="col" class="num">${t("Members")}</th>
        <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
      </tr></thead>
      <tbody>${groups.map((g) => html`<tr class=${open === g.name ? "open" : ""}>
          <td><strong>${g.name}</strong></td>
          <td>${g.description}</td>
          <td class="num">${g.member_count}</td>
          <td><div class="actions">
            <button type="button" class="secondary small" aria-expanded=${open === g.name ? "true" : "false"}
              aria-label=${t("Members of the group {name}", { name: g.name })}
              onClick=${() => setOpen(open === g.name ? null : g.name)}>${t("Members")}</button>
            <button type="button" class="danger small" onClick=${() => remove(g)}
              aria-label=${t("Delete the group {name}", { name: g.name })}>${t("Delete")}</button>
          </div></td>
        </tr>
        ${open === g.name &&
        html`<tr class="detail"><td colspan="4">
          <${GroupMembers} group=${g.name} onChanged=${load} />
        </td></tr>`}`)}
      </tbody>
    </table>`}

    <h2>${t("New group")}</h2>
    <form class="card stack admin-form" onSubmit=${create}>
      <label for="new-group">${t("Group name")}</label>
      <input id="new-group" name="name" required minlength="3" maxlength="64" autocomplete="off"
        aria-describedby="new-group-help" />
      <p id="new-group-help" class="muted">${t("3 to 64 characters: letters a to z, digits, '.', '_', '@' or '-'. For example cardiologie.")}</p>
      <label for="new-group-description">${t("Description")}</label>
      <input id="new-group-description" name="description" maxlength="500" autocomplete="off" />
      <button type="submit">${t("Create the group")}</button>
    </form>
  `;
}

function GroupMembers({ group, onChanged }) {
  const [members, setMembers] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = () => api("GET", groupUrl(group, "/members")).then(setMembers, setError);
  useEffect(() => {
    load();
  }, [group]);
  const act = runner({
    setError,
    setNotice,
    reload: async () => {
      await load();
      await onChanged();
    },
  });

  const add = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const username = String(new FormData(form).get("username")).trim();
    act(async () => {
      await api("PUT", groupUrl(group, `/members/${encodeURIComponent(username)}`));
      form.reset();
      setNotice(t("{user} is a member of {group}.", { user: username, group }));
    });
  };
  const remove = (username) =>
    act(async () => {
      await api("DELETE", groupUrl(group, `/members/${encodeURIComponent(username)}`));
      setNotice(t("{user} is no longer a member of {group}.", { user: username, group }));
    });

  return html`<div>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${members?.length === 0 && html`<p class="muted">${t("This group has no member yet.")}</p>`}
    ${members?.length > 0 &&
    html`<ul class="members">${members.map((m) => html`<li>
      ${m.username}${m.display_name && ` (${m.display_name})`}
      <button type="button" class="danger small" onClick=${() => remove(m.username)}
        aria-label=${t("Remove {user} from {group}", { user: m.username, group })}>${t("Remove")}</button>
    </li>`)}</ul>`}
    <form class="inline" onSubmit=${add}>
      <label for=${`add-member-${group}`}>${t("Add a member (user name)")}</label>
      <input id=${`add-member-${group}`} name="username" required autocomplete="off" />
      <button type="submit">${t("Add")}</button>
    </form>
  </div>`;
}
