// A space's members and their roles (managers): list, give, change, remove.
// Who may do it is the server's decision; a refusal shows its message.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Problem } from "../widgets.js";

const ROLES = ["reader", "contributor", "manager"];
const ROLE_LABELS = {
  reader: () => t("Reader"),
  contributor: () => t("Contributor"),
  manager: () => t("Manager"),
};

function principalLabel(principal) {
  const [kind, name] = [principal.split(":")[0], principal.slice(principal.indexOf(":") + 1)];
  return kind === "group" ? t("group {name}", { name }) : name;
}

export function MembersPage({ space }) {
  const [grants, setGrants] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const base = `/spaces/${encodeURIComponent(space)}/members`;
  const load = () => api("GET", base).then(setGrants, setError);
  useEffect(() => {
    load();
  }, [space]);

  const act = async (fn) => {
    setError(null);
    setNotice(null);
    try {
      await fn();
      await load();
    } catch (err) {
      setError(err);
    }
  };

  const give = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const principal = `${data.get("kind")}:${String(data.get("name")).trim()}`;
    const role = String(data.get("role"));
    act(async () => {
      await api("PUT", `${base}/${encodeURIComponent(principal)}`, { json: { role } });
      form.reset();
      setNotice(t("{who} is now {role}.", { who: principalLabel(principal), role: ROLE_LABELS[role]() }));
    });
  };

  const change = (grant, role) =>
    act(async () => {
      await api("PUT", `${base}/${encodeURIComponent(grant.principal)}`, { json: { role } });
      setNotice(t("{who} is now {role}.", { who: principalLabel(grant.principal), role: ROLE_LABELS[role]() }));
    });

  const remove = (grant) => {
    if (!window.confirm(t("Remove the role of {who} on this space?", { who: principalLabel(grant.principal) }))) return;
    act(async () => {
      await api("DELETE", `${base}/${encodeURIComponent(grant.principal)}`);
      setNotice(t("{who} has no role on this space any more.", { who: principalLabel(grant.principal) }));
    });
  };

  return html`
    <section class="page">
      <nav aria-label=${t("Breadcrumbs")} class="crumbs">
        <a href="/" onClick=${linkClick}>${t("My spaces")}</a>
        <span aria-hidden="true">›</span>
        <a href=${`/spaces/${encodeURIComponent(space)}/`} onClick=${linkClick}>${space}</a>
        <span aria-hidden="true">›</span>
        <span aria-current="page">${t("Members")}</span>
      </nav>
      <h1>${t("Members of {space}", { space })}</h1>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${grants?.length > 0 &&
      html`<table class="listing">
        <thead><tr>
          <th scope="col">${t("Who")}</th><th scope="col">${t("Role")}</th>
          <th scope="col">${t("Since")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${grants.map((g) => html`<tr>
          <td>${principalLabel(g.principal)}</td>
          <td>
            <label class="visually-hidden" for=${`role-${g.principal}`}>${t("Role of {who}", { who: principalLabel(g.principal) })}</label>
            <select id=${`role-${g.principal}`} value=${g.role} onChange=${(e) => change(g, e.currentTarget.value)}>
              ${ROLES.map((r) => html`<option value=${r} selected=${r === g.role}>${ROLE_LABELS[r]()}</option>`)}
            </select>
          </td>
          <td>${formatDate(g.created_at)}</td>
          <td><div class="actions">
            <button type="button" class="danger small" onClick=${() => remove(g)}
              aria-label=${t("Remove {who}", { who: principalLabel(g.principal) })}>${t("Remove")}</button>
          </div></td>
        </tr>`)}</tbody>
      </table>`}
      <h2>${t("Give a role")}</h2>
      <form class="inline" onSubmit=${give}>
        <label for="member-kind">${t("Kind")}</label>
        <select id="member-kind" name="kind">
          <option value="user">${t("user")}</option>
          <option value="group">${t("group")}</option>
        </select>
        <label for="member-name">${t("Name")}</label>
        <input id="member-name" name="name" required autocomplete="off" />
        <label for="member-role">${t("Role")}</label>
        <select id="member-role" name="role">
          ${ROLES.map((r) => html`<option value=${r}>${ROLE_LABELS[r]()}</option>`)}
        </select>
        <button type="submit">${t("Give")}</button>
      </form>
    </section>
  `;
}
