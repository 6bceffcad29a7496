// Notifications (issue 7, item 5): the bell in the header with the unread
// count, the list at /notifications, the "Follow" toggle of the folder page
// and the e-mail preferences of the account page. The server decides what a
// notification may show: a path only while I may still see the item.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Problem } from "../widgets.js";

const CHANGED = "egide:notifications";
const POLL_MS = 60_000;
const PAGE = 50;

const KIND_LABELS = {
  file_added: () => t("File added"),
  file_updated: () => t("File updated"),
  deleted: () => t("Moved to the trash"),
  shared: () => t("Shared with you"),
  link_opened: () => t("Your link was opened"),
  request_received: () => t("File received through a request"),
};

function announce() {
  window.dispatchEvent(new CustomEvent(CHANGED));
}

function followUrl(space, path) {
  const encoded = path.split("/").filter(Boolean).map(encodeURIComponent).join("/");
  return `/spaces/${encodeURIComponent(space)}/follow/${encoded}`;
}

/** The folder page to open: the item's folder, or the folder shared with me itself. */
function itemHref(item) {
  const parts = item.path.split("/").filter(Boolean);
  const folder = item.kind === "shared" ? parts : parts.slice(0, -1);
  const encoded = folder.map(encodeURIComponent).join("/");
  return `/spaces/${encodeURIComponent(item.space)}/${encoded}${folder.length ? "/" : ""}`;
}

function BellIcon() {
  return html`<svg class="glyph" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
    <path d="M6 17h12l-1.5-2V10a4.5 4.5 0 0 0-9 0v5zM10 20h4" />
  </svg>`;
}

/** The header's bell: a link to /notifications with the unread count, polled. */
export function NotificationBell() {
  const [unread, setUnread] = useState(0);
  useEffect(() => {
    let stopped = false;
    const load = () =>
      api("GET", "/notifications?limit=1&unread=true", { background: true }).then(
        (page) => !stopped && setUnread(page.unread),
        () => {},
      );
    load();
    const timer = setInterval(load, POLL_MS);
    window.addEventListener(CHANGED, load);
    return () => {
      stopped = true;
      clearInterval(timer);
      window.removeEventListener(CHANGED, load);
    };
  }, []);
  const label = unread
    ? t("Notifications: {count} unread", { count: unread })
    : t("Notifications: none unread");
  return html`<a class="bell" href="/notifications" onClick=${linkClick} aria-label=${label} title=${label}>
    <${BellIcon} />${unread > 0 && html`<span class="badge" data-unread=${unread}>${unread > 99 ? "99+" : unread}</span>`}
  </a>`;
}

/** The list of my notifications, newest first, with "mark as read". */
export function NotificationsPage() {
  const [page, setPage] = useState(null);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [offset, setOffset] = useState(0);
  const [error, setError] = useState(null);
  const load = () =>
    api("GET", `/notifications?limit=${PAGE}&offset=${offset}${unreadOnly ? "&unread=true" : ""}`).then(
      setPage,
      setError,
    );
  useEffect(() => {
    load();
  }, [unreadOnly, offset]);
  const mark = async (json) => {
    setError(null);
    try {
      await api("POST", "/notifications/read", { json });
      announce();
      await load();
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <section class="page">
      <div class="titlebar">
        <h1>${t("My notifications")}</h1>
        <div class="buttons">
          <label class="check"><input type="checkbox" checked=${unreadOnly}
            onChange=${(e) => { setOffset(0); setUnreadOnly(e.currentTarget.checked); }} /> ${t("Unread only")}</label>
          ${page?.unread > 0 &&
          html`<button type="button" class="secondary" onClick=${() => mark({ all: true })}>${t("Mark all as read")}</button>`}
        </div>
      </div>
      <${Problem} error=${error} />
      ${page === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${page?.items.length === 0 &&
      html`<div class="empty">
        <p>${t("No notification.")}</p>
        <p>${t("Follow a folder (button “Follow” on its page) to be told when a file is added, changed or deleted there.")}</p>
      </div>`}
      ${page?.items.length > 0 &&
      html`<table class="listing" id="notifications">
        <caption class="visually-hidden">${t("My notifications")}</caption>
        <thead><tr>
          <th scope="col">${t("What")}</th><th scope="col">${t("Where")}</th>
          <th scope="col">${t("By")}</th><th scope="col">${t("Date")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${page.items.map((item) => html`<tr class=${item.read ? "read" : "unread"}>
          <td>${item.read ? "" : html`<strong class="visually-hidden">${t("Unread")}</strong>`}${KIND_LABELS[item.kind]?.() ?? item.kind}</td>
          <td>${item.space && item.path !== null
            ? html`<a href=${itemHref(item)} onClick=${linkClick}>${item.space}${item.path}</a>`
            : html`<span class="muted">${t("no longer visible to you")}</span>`}</td>
          <td>${item.actor ?? ""}</td>
          <td>${formatDate(item.created_at)}</td>
          <td><div class="actions">${!item.read &&
            html`<button type="button" class="secondary small" onClick=${() => mark({ ids: [item.id] })}>${t("Mark as read")}</button>`}</div></td>
        </tr>`)}</tbody>
      </table>`}
      <div class="buttons">
        ${offset > 0 && html`<button type="button" class="secondary" onClick=${() => setOffset(Math.max(0, offset - PAGE))}>${t("Newer")}</button>`}
        ${page?.next_offset != null && html`<button type="button" class="secondary" onClick=${() => setOffset(page.next_offset)}>${t("Older")}</button>`}
      </div>
    </section>
  `;
}

/** "Follow" / "Following" for a folder (`path` "" : the whole space). */
export function FollowToggle({ space, path }) {
  const [following, setFollowing] = useState(null);
  const [error, setError] = useState(null);
  const here = `/${path}`.replace(/\/+$/, "") || "/";
  useEffect(() => {
    setFollowing(null);
    api("GET", "/follows").then(
      (rows) => setFollowing(rows.some((f) => f.space === space && f.path === here)),
      setError,
    );
  }, [space, here]);
  const toggle = async () => {
    setError(null);
    try {
      await api(following ? "DELETE" : "PUT", followUrl(space, path));
      setFollowing(!following);
    } catch (err) {
      setError(err);
    }
  };
  if (following === null) return error ? html`<${Problem} error=${error} />` : null;
  const title = path ? t("Be told of what changes in this folder") : t("Be told of what changes in this space");
  return html`<button type="button" class="secondary follow" aria-pressed=${following ? "true" : "false"}
    title=${title} onClick=${toggle}>${following ? t("Following") : t("Follow")}</button>
    ${error && html`<${Problem} error=${error} />`}`;
}

const DELIVERY_LABELS = {
  immediate: () => t("At once"),
  hourly: () => t("Once an hour (summary)"),
  daily: () => t("Once a day (summary)"),
  off: () => t("Never (only in Égide)"),
};

/** The account page's section: e-mail delivery and privacy mode. */
export function NotificationPreferences() {
  const [prefs, setPrefs] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    api("GET", "/me/notifications").then(setPrefs, setError);
  }, []);
  const save = async (change) => {
    setError(null);
    setSaved(false);
    try {
      setPrefs(await api("PUT", "/me/notifications", { json: change }));
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  return html`
    <h2>${t("Notifications by e-mail")}</h2>
    <${Problem} error=${error} />
    ${prefs &&
    html`<form class="stack" id="notification-preferences" onSubmit=${(e) => e.preventDefault()}>
      ${!prefs.has_address &&
      html`<p class="muted">${t("Your account has no e-mail address: notifications stay in Égide. Ask your administrator to add one.")}</p>`}
      <label for="notify-email">${t("Send me an e-mail")}</label>
      <select id="notify-email" value=${prefs.email} onChange=${(e) => save({ email: e.currentTarget.value })}>
        ${Object.keys(DELIVERY_LABELS).map((key) => html`<option value=${key}>${DELIVERY_LABELS[key]()}</option>`)}
      </select>
      <label class="check"><input type="checkbox" id="notify-privacy" checked=${prefs.privacy}
        onChange=${(e) => save({ privacy: e.currentTarget.checked })} />
        ${t("Privacy mode: no file or folder name in e-mails, only a link (recommended)")}</label>
      ${saved && html`<p class="notice" role="status">${t("Preferences saved.")}</p>`}
    </form>`}
  `;
}
