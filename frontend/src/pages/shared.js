// "Shared with me" (issue 7, item 1): folders and files colleagues gave me
// or one of my groups a role on, outside the spaces where I hold a role.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, spaceUrl } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Icon, Problem } from "../widgets.js";

const ROLE_LABELS = {
  reader: () => t("Reader"),
  contributor: () => t("Contributor"),
  manager: () => t("Manager"),
};

function itemHref(item) {
  const parts = item.path.split("/").filter(Boolean).map(encodeURIComponent).join("/");
  if (item.kind === "folder") return `/spaces/${encodeURIComponent(item.space)}/${parts}/`;
  return `/api/v1${spaceUrl(item.space, "content", item.path)}`;
}

export function SharedPage() {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api("GET", "/shared-with-me").then(setItems, setError);
  }, []);
  return html`
    <section class="page">
      <h1>${t("Shared with me")}</h1>
      <${Problem} error=${error} />
      ${items === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${items?.length === 0 &&
      html`<div class="empty">
        <p>${t("Nothing is shared with you yet.")}</p>
        <p>${t("When a colleague gives you a role on a folder or a file, it appears here.")}</p>
      </div>`}
      ${items?.length > 0 &&
      html`<table class="listing">
        <caption class="visually-hidden">${t("Shared with me")}</caption>
        <thead><tr>
          <th scope="col">${t("Name")}</th><th scope="col">${t("Space")}</th>
          <th scope="col">${t("Role")}</th><th scope="col">${t("Shared by")}</th>
          <th scope="col">${t("Date")}</th>
        </tr></thead>
        <tbody>${items.map((item) => html`<tr>
          <td class="name"><${Icon} node=${item} />
            ${item.kind === "folder"
              ? html`<a href=${itemHref(item)} onClick=${linkClick}>${item.name}</a>`
              : html`<a href=${itemHref(item)} download=${item.name}>${item.name}</a>`}</td>
          <td>${item.space}</td>
          <td>${ROLE_LABELS[item.role]?.() ?? item.role}${item.via_group && html`<br /><span class="muted">${t("through the group {name}", { name: item.via_group })}</span>`}</td>
          <td>${item.shared_by ?? ""}</td>
          <td>${formatDate(item.shared_at)}</td>
        </tr>`)}</tbody>
      </table>`}
    </section>
  `;
}
