// My spaces: every space I can see, with its use of the quota.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { formatBytes, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Glyph, Problem } from "../widgets.js";

const ROLES = {
  manager: () => t("Manager"),
  contributor: () => t("Contributor"),
  reader: () => t("Reader"),
};

export function SpacesPage() {
  const [spaces, setSpaces] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", "/spaces").then(setSpaces, setError);
  }, []);
  return html`
    <section class="page">
      <h1>${t("My spaces")}</h1>
      <${Problem} error=${error} />
      ${spaces === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${spaces?.length === 0 &&
      html`<div class="empty">
        <p>${t("You have no space yet.")}</p>
        <p>${t("Ask an administrator to create one or to give you a role in one.")}</p>
      </div>`}
      ${spaces?.length > 0 &&
      html`<ul class="spaces">
        ${spaces.map(
          (s) => html`<li class="space card">
            <a class="space-title" href=${`/spaces/${encodeURIComponent(s.slug)}/`} onClick=${linkClick}>
              <${Glyph} name="space" /> ${s.title || s.slug}
            </a>
            <p class="muted">
              ${s.role ? ROLES[s.role]?.() ?? s.role : ""}
              ${" · "}
              ${s.quota_bytes
                ? t("{used} used of {quota}", { used: formatBytes(s.used_bytes), quota: formatBytes(s.quota_bytes) })
                : t("{used} used", { used: formatBytes(s.used_bytes) })}
            </p>
            ${s.quota_bytes &&
            html`<progress max=${s.quota_bytes} value=${s.used_bytes}
              aria-label=${t("Quota used in {space}", { space: s.title || s.slug })}></progress>`}
          </li>`,
        )}
      </ul>`}
    </section>
  `;
}
