// The folder browser: breadcrumbs, sorting, sizes and dates in the user's
// locale, new folder, uploads, download, rename, move, versions, delete to
// the trash.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, spaceUrl } from "../api.js";
import { runner } from "../actions.js";
import { formatBytes, formatDate, language, onLanguageChange, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { mountUploader } from "../upload.js";
import { Glyph, Icon, Problem } from "../widgets.js";
import { PreviewDialog, previewKind } from "./preview.js";
import { ShareDialog } from "./share.js";
import { FollowToggle } from "./notifications.js";

const SORTS = {
  name: (a, b) => a.name.localeCompare(b.name, language(), { sensitivity: "base", numeric: true }),
  size: (a, b) => a.size - b.size,
  date: (a, b) => a.modified_at.localeCompare(b.modified_at),
};

function folderHref(space, parts) {
  return `/spaces/${encodeURIComponent(space)}/${parts.map(encodeURIComponent).join("/")}${parts.length ? "/" : ""}`;
}

function sorted(items, { key, asc }) {
  const cmp = SORTS[key];
  return [...items].sort((a, b) => {
    if (a.kind !== b.kind) return a.kind === "folder" ? -1 : 1;
    const r = cmp(a, b) || SORTS.name(a, b);
    return asc ? r : -r;
  });
}

export function FolderPage({ space, path }) {
  const folder = path.join("/");
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [sort, setSort] = useState({ key: "name", asc: true });
  const [open, setOpen] = useState(null); // {id, mode: "rename" | "move" | "versions"}
  const [refused, setRefused] = useState([]);
  const [sharing, setSharing] = useState(null); // the item of the share dialog
  const uploadTarget = useRef(null);
  const where = useRef({ space, folder: path });
  where.current = { space, folder: path };

  const load = async () => {
    try {
      setListing(await api("GET", spaceUrl(space, "nodes", folder)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  };

  useEffect(() => {
    setListing(null);
    setOpen(null);
    setNotice(null);
    load();
  }, [space, folder]);

  const reload = useRef(load);
  reload.current = load;
  useEffect(() => {
    let timer = null;
    const uploader = mountUploader(uploadTarget.current, {
      where: () => where.current,
      onUploaded: () => {
        clearTimeout(timer);
        timer = setTimeout(() => reload.current(), 300);
      },
      onRefused: setRefused,
    });
    const off = onLanguageChange((lang) => uploader.setLanguage(lang));
    return () => {
      clearTimeout(timer);
      off();
      uploader.destroy();
    };
  }, []);

  const act = runner({ setError, setNotice });

  const createFolder = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name")).trim();
    act(async () => {
      await api("POST", spaceUrl(space, "folders", [...path, name].join("/")));
      form.reset();
      setNotice(t("Folder “{name}” created.", { name }));
      await load();
    });
  };

  const remove = (node) => {
    if (!window.confirm(t("Move “{name}” to the trash?", { name: node.name }))) return;
    act(async () => {
      await api("DELETE", spaceUrl(space, "nodes", node.path));
      setNotice(t("“{name}” is in the trash.", { name: node.name }));
      await load();
    });
  };

  const move = (node, to) =>
    act(async () => {
      await api("POST", `/spaces/${encodeURIComponent(space)}/move`, { json: { from: node.path, to } });
      setOpen(null);
      setNotice(t("“{name}” is now “{to}”.", { name: node.name, to }));
      await load();
    });

  const items = listing ? sorted(listing.items, sort) : [];
  const sortButton = (key, label) => {
    const active = sort.key === key;
    return html`<button type="button" class="sort"
      onClick=${() => setSort({ key, asc: active ? !sort.asc : true })}>
      ${label} <span aria-hidden="true">${active ? (sort.asc ? "▲" : "▼") : ""}</span>
    </button>`;
  };
  const ariaSort = (key) => (sort.key === key ? (sort.asc ? "ascending" : "descending") : "none");

  return html`
    <section class="page">
      <nav aria-label=${t("Breadcrumbs")} class="crumbs">
        <a href="/" onClick=${linkClick}>${t("My spaces")}</a>
        <span aria-hidden="true">›</span>
        ${path.length === 0
          ? html`<span aria-current="page">${space}</span>`
          : html`<a href=${folderHref(space, [])} onClick=${linkClick}>${space}</a>`}
        ${path.map((name, i) => html`<span aria-hidden="true">›</span>
          ${i === path.length - 1
            ? html`<span aria-current="page">${name}</span>`
            : html`<a href=${folderHref(space, path.slice(0, i + 1))} onClick=${linkClick}>${name}</a>`}`)}
      </nav>
      <div class="titlebar">
        <h1>${path.length ? path[path.length - 1] : space}</h1>
        <div class="buttons">
          <${FollowToggle} space=${space} path=${folder} />
          ${path.length > 0 &&
          html`<button type="button" class="secondary"
            onClick=${() => setSharing({ path: folder, name: path[path.length - 1], kind: "folder" })}>
            ${t("Share this folder")}</button>`}
          <a class="button secondary" href=${`/members/${encodeURIComponent(space)}`} onClick=${linkClick}>
            ${t("Members")}
          </a>
          <a class="button secondary" href=${`/trash/${encodeURIComponent(space)}`} onClick=${linkClick}>
            <${Glyph} name="trash" /> ${t("Trash")}
          </a>
        </div>
      </div>
      <form class="inline" onSubmit=${createFolder}>
        <label for="new-folder">${t("New folder")}</label>
        <input id="new-folder" name="name" required maxlength="255" placeholder=${t("Folder name")} />
        <button type="submit">${t("Create")}</button>
      </form>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${listing === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${listing && items.length === 0 &&
      html`<div class="empty">
        <p>${t("This folder is empty.")}</p>
        <p>${t("Drop files or folders in the box below, or use its buttons to choose them.")}</p>
      </div>`}
      ${items.length > 0 &&
      html`<table class="listing">
        <caption class="visually-hidden">${t("Content of the folder")}</caption>
        <thead><tr>
          <th scope="col" aria-sort=${ariaSort("name")}>${sortButton("name", t("Name"))}</th>
          <th scope="col" class="num" aria-sort=${ariaSort("size")}>${sortButton("size", t("Size"))}</th>
          <th scope="col" aria-sort=${ariaSort("date")}>${sortButton("date", t("Modified"))}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>
          ${items.map((node) => html`<${Row} key=${node.id} node=${node} space=${space} path=${path}
            open=${open?.id === node.id ? open.mode : null}
            setOpen=${(mode) => setOpen(mode ? { id: node.id, mode } : null)}
            onRemove=${() => remove(node)} onMove=${(to) => move(node, to)} act=${act} reload=${load}
            setNotice=${setNotice} onShare=${() => setSharing(node)} />`)}
        </tbody>
      </table>`}
      <h2 class="upload-title">${t("Add files")}</h2>
      <div class="uploader" ref=${uploadTarget}></div>
      ${refused.length > 0 &&
      html`<div class="refused" role="alert">
        <h3>${t("Files not stored")}</h3>
        <ul>${refused.map((r) => html`<li><strong>${r.name}</strong>: <span class="problem-text">${r.message}</span></li>`)}</ul>
      </div>`}
      ${sharing && html`<${ShareDialog} space=${space} node=${sharing} onClose=${() => setSharing(null)} />`}
    </section>
  `;
}

function Row({ node, space, path, open, setOpen, onRemove, onMove, act, reload, setNotice, onShare }) {
  const isFolder = node.kind === "folder";
  const href = isFolder ? folderHref(space, [...path, node.name]) : `/api/v1${spaceUrl(space, "content", node.path)}`;
  const submitRename = (e) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get("name")).trim();
    onMove([...path, name].join("/"));
  };
  const submitMove = (e) => {
    e.preventDefault();
    const to = String(new FormData(e.currentTarget).get("to")).trim().replace(/^\/+|\/+$/g, "");
    onMove(to ? `${to}/${node.name}` : node.name);
  };
  return html`
    <tr class=${open ? "open" : ""}>
      <td class="name">
        <${Icon} node=${node} />
        ${isFolder
          ? html`<a href=${href} onClick=${linkClick}>${node.name}</a>`
          : html`<a href=${href} download=${node.name}>${node.name}</a>`}
      </td>
      <td class="num">${isFolder ? "" : formatBytes(node.size)}</td>
      <td>${formatDate(node.modified_at)}</td>
      <td><div class="actions">
        ${previewKind(node) === "pdf" &&
        html`<a class="button secondary small" href=${`${href}?inline=true`} target="_blank" rel="noopener"
          aria-label=${t("Preview {name} (new tab)", { name: node.name })}>${t("Preview")}</a>`}
        ${previewKind(node) && previewKind(node) !== "pdf" &&
        html`<button type="button" class="secondary small" aria-label=${t("Preview {name}", { name: node.name })}
          onClick=${() => setOpen("preview")}>${t("Preview")}</button>`}
        ${!isFolder &&
        html`<a class="button secondary small" href=${href} download=${node.name}
          aria-label=${t("Download {name}", { name: node.name })}>${t("Download")}</a>`}
        <button type="button" class="secondary small" aria-expanded=${open === "rename" ? "true" : "false"}
          aria-label=${t("Rename {name}", { name: node.name })}
          onClick=${() => setOpen(open === "rename" ? null : "rename")}>${t("Rename")}</button>
        <button type="button" class="secondary small" aria-expanded=${open === "move" ? "true" : "false"}
          aria-label=${t("Move {name}", { name: node.name })}
          onClick=${() => setOpen(open === "move" ? null : "move")}>${t("Move")}</button>
        ${!isFolder &&
        html`<button type="button" class="secondary small" aria-expanded=${open === "versions" ? "true" : "false"}
          aria-label=${t("Versions of {name}", { name: node.name })}
          onClick=${() => setOpen(open === "versions" ? null : "versions")}>${t("Versions")}</button>`}
        <button type="button" class="secondary small" aria-label=${t("Share {name}", { name: node.name })}
          onClick=${onShare}>${t("Share")}</button>
        <button type="button" class="danger small" aria-label=${t("Delete {name}", { name: node.name })}
          onClick=${onRemove}>${t("Delete")}</button>
      </div></td>
    </tr>
    ${open === "rename" &&
    html`<tr class="detail"><td colspan="4">
      <form class="inline" onSubmit=${submitRename}>
        <label for=${`rename-${node.id}`}>${t("New name")}</label>
        <input id=${`rename-${node.id}`} name="name" required maxlength="255" value=${node.name} autofocus />
        <button type="submit">${t("Rename")}</button>
        <button type="button" class="secondary" onClick=${() => setOpen(null)}>${t("Cancel")}</button>
      </form>
    </td></tr>`}
    ${open === "move" &&
    html`<tr class="detail"><td colspan="4">
      <form class="inline" onSubmit=${submitMove}>
        <label for=${`move-${node.id}`}>${t("Destination folder (path in the space, empty for the top)")}</label>
        <input id=${`move-${node.id}`} name="to" value=${path.join("/")} autofocus />
        <button type="submit">${t("Move")}</button>
        <button type="button" class="secondary" onClick=${() => setOpen(null)}>${t("Cancel")}</button>
      </form>
    </td></tr>`}
    ${open === "preview" &&
    html`<tr class="detail"><td colspan="4">
      <${PreviewDialog} node=${node} url=${href} onClose=${() => setOpen(null)} />
    </td></tr>`}
    ${open === "versions" &&
    html`<tr class="detail"><td colspan="4">
      <${Versions} space=${space} node=${node} act=${act} reload=${reload} setNotice=${setNotice} />
    </td></tr>`}
  `;
}

// The antivirus state of a version (docs/antivirus.md), shown when it is not plainly readable.
function scanNote(scan) {
  if (scan === "pending") return ` (${t("awaiting antivirus scan")})`;
  if (scan === "too_large") return ` (${t("too large for the antivirus")})`;
  if (scan === "infected") return ` (${t("threat found by the antivirus")})`;
  return "";
}

function Versions({ space, node, act, reload, setNotice }) {
  const [versions, setVersions] = useState(null);
  const [error, setError] = useState(null);
  // Its own error, not `act`: reloading the list must not wipe the page's notice.
  const load = () =>
    api("GET", spaceUrl(space, "versions", node.path)).then(
      (list) => {
        setVersions(list);
        setError(null);
      },
      setError,
    );
  useEffect(() => {
    load();
  }, [node.id, node.version_id]);
  const restore = (v) =>
    act(async () => {
      await api("POST", `${spaceUrl(space, "versions", node.path)}/${encodeURIComponent(v.id)}/restore`);
      setNotice(t("Version {number} of “{name}” is the current one again.", { number: v.number, name: node.name }));
      await reload();
    });
  if (!versions) return error ? html`<${Problem} error=${error} />` : html`<p role="status">${t("Loading…")}</p>`;
  const content = `/api/v1${spaceUrl(space, "content", node.path)}`;
  return html`<table class="versions">
    <caption>${t("Versions of {name}", { name: node.name })}</caption>
    <thead><tr>
      <th scope="col">${t("Version")}</th><th scope="col" class="num">${t("Size")}</th>
      <th scope="col">${t("Date")}</th><th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
    </tr></thead>
    <tbody>${versions.map((v) => html`<tr>
      <td>${v.number}${v.is_current ? ` (${t("current")})` : ""}${scanNote(v.scan)}</td>
      <td class="num">${formatBytes(v.size)}</td>
      <td>${formatDate(v.created_at)}</td>
      <td><div class="actions">
        <a class="button secondary small" href=${`${content}?version=${encodeURIComponent(v.id)}`} download=${node.name}
          aria-label=${t("Download version {number}", { number: v.number })}>${t("Download")}</a>
        ${!v.is_current &&
        html`<button type="button" class="secondary small" onClick=${() => restore(v)}
          aria-label=${t("Restore version {number}", { number: v.number })}>${t("Restore")}</button>`}
      </div></td>
    </tr>`)}</tbody>
  </table>`;
}
