// The admin area (/admin, /admin/groups, /admin/spaces): users, groups,
// spaces with their quotas and link policies. Administrators only: the link
// in the header shows for them, and the server refuses anyone else (its
// message is shown), so this page decides nothing.
import { html } from "../html.js";
import { t } from "../i18n.js";
import { linkClick } from "../router.js";
import { AdminUsers } from "./admin-users.js";
import { AdminGroups } from "./admin-groups.js";
import { AdminSpaces } from "./admin-spaces.js";

const SECTIONS = [
  { key: "users", href: "/admin", label: () => t("Users"), Page: AdminUsers },
  { key: "groups", href: "/admin/groups", label: () => t("Groups"), Page: AdminGroups },
  { key: "spaces", href: "/admin/spaces", label: () => t("Spaces and quotas"), Page: AdminSpaces },
];

export function AdminPage({ section, me }) {
  const current = SECTIONS.find((s) => s.key === section);
  if (!current) {
    return html`<section class="page">
      <h1>${t("Page not found")}</h1>
      <p><a href="/admin" onClick=${linkClick}>${t("Admin area")}</a></p>
    </section>`;
  }
  const { Page } = current;
  return html`
    <section class="page admin">
      <h1>${t("Admin area")}</h1>
      <nav class="tabs" aria-label=${t("Admin area")}>
        ${SECTIONS.map(
          (s) => html`<a href=${s.href} onClick=${linkClick}
            aria-current=${s.key === current.key ? "page" : undefined}>${s.label()}</a>`,
        )}
      </nav>
      <${Page} key=${current.key} me=${me} />
    </section>
  `;
}
