// A space's trash, with restore.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatBytes, formatDate, t } from "../i18n.js";
import { Icon, Problem, SpaceCrumbs } from "../widgets.js";

export function TrashPage({ space }) {
  const [items, setItems] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const load = () => api("GET", `/spaces/${encodeURIComponent(space)}/trash`).then(setItems, setError);
  useEffect(() => {
    load();
  }, [space]);

  // The notice of the last restore stays until the next one replaces it.
  const act = runner({ setError, reload: load });
  const restore = (item) =>
    act(async () => {
      const node = await api("POST", `/spaces/${encodeURIComponent(space)}/trash/${encodeURIComponent(item.id)}/restore`, { json: {} });
      setNotice(t("“{name}” is back in its folder.", { name: node.name }));
    });

  return html`
    <section class="page">
      <${SpaceCrumbs} space=${space} current=${t("Trash")} />
      <h1>${t("Trash of {space}", { space })}</h1>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${items?.length === 0 &&
      html`<div class="empty"><p>${t("The trash is empty.")}</p>
        <p>${t("What you delete comes here first, so you can bring it back.")}</p></div>`}
      ${items?.length > 0 &&
      html`<table class="listing">
        <thead><tr>
          <th scope="col">${t("Name")}</th>
          <th scope="col">${t("Former place")}</th>
          <th scope="col" class="num">${t("Size")}</th>
          <th scope="col">${t("Deleted on")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>
          ${items.map(
            (item) => html`<tr>
              <td><${Icon} node=${item} /> ${item.name}</td>
              <td class="muted">${item.original_path ?? ""}</td>
              <td class="num">${item.kind === "folder" ? "" : formatBytes(item.size)}</td>
              <td>${formatDate(item.deleted_at)}</td>
              <td><div class="actions">
                <button type="button" class="secondary" onClick=${() => restore(item)}
                  aria-label=${t("Restore {name}", { name: item.name })}>${t("Restore")}</button>
              </div></td>
            </tr>`,
          )}
        </tbody>
      </table>`}
    </section>
  `;
}
