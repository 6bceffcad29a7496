// Roles on a space or an item, as the members page and the share dialog show
// and give them: the three roles, who holds one ("user:…" or "group:…"), and
// the form that gives one to a user or a group.
import { html } from "./html.js";
import { t } from "./i18n.js";

export const ROLES = ["reader", "contributor", "manager"];
export const ROLE_LABELS = {
  reader: () => t("Reader"),
  contributor: () => t("Contributor"),
  manager: () => t("Manager"),
};

/** "user:alice" reads "alice", "group:cardio" reads "group cardio". */
export function principalLabel(principal) {
  const kind = principal.split(":")[0];
  const name = principal.slice(principal.indexOf(":") + 1);
  return kind === "group" ? t("group {name}", { name }) : name;
}

/**
 * The inline form kind / name / role; `onGive({principal, role, form})` on
 * submit. `id` prefixes the fields' ids.
 */
export function RoleForm({ id, submitLabel, onGive }) {
  const submit = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    const principal = `${data.get("kind")}:${String(data.get("name")).trim()}`;
    onGive({ principal, role: String(data.get("role")), form });
  };
  return html`<form class="inline" onSubmit=${submit}>
    <label for=${`${id}-kind`}>${t("Kind")}</label>
    <select id=${`${id}-kind`} name="kind">
      <option value="user">${t("user")}</option>
      <option value="group">${t("group")}</option>
    </select>
    <label for=${`${id}-name`}>${t("Name")}</label>
    <input id=${`${id}-name`} name="name" required autocomplete="off" />
    <label for=${`${id}-role`}>${t("Role")}</label>
    <select id=${`${id}-role`} name="role">
      ${ROLES.map((r) => html`<option value=${r}>${ROLE_LABELS[r]()}</option>`)}
    </select>
    <button type="submit">${submitLabel}</button>
  </form>`;
}
