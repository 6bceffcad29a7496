// A space's members and their roles (managers): list, give, change, remove.
// Who may do it is the server's decision; a refusal shows its message.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, t } from "../i18n.js";
import { principalLabel, ROLE_LABELS, RoleForm, ROLES } from "../roles.js";
import { Problem, SpaceCrumbs } from "../widgets.js";

export function MembersPage({ space }) {
  const [grants, setGrants] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const base = `/spaces/${encodeURIComponent(space)}/members`;
  const load = () => api("GET", base).then(setGrants, setError);
  useEffect(() => {
    load();
  }, [space]);

  const act = runner({ setError, setNotice, reload: load });

  const give = ({ principal, role, form }) =>
    act(async () => {
      await api("PUT", `${base}/${encodeURIComponent(principal)}`, { json: { role } });
      form.reset();
      setNotice(t("{who} is now {role}.", { who: principalLabel(principal), role: ROLE_LABELS[role]() }));
    });

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
      <${SpaceCrumbs} space=${space} current=${t("Members")} />
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
      <${RoleForm} id="member" submitLabel=${t("Give")} onGive=${give} />
    </section>
  `;
}
