// The share dialog of a file or a folder (issue 7, item 4): who holds a role
// on it (given here, or inherited from a folder above), give one to a user or
// a group, take one back; its external links (made here, the address shown
// once), how often they were used, revoked at once. Every rule (who may
// share, the longest lifetime, verification) is the server's; a refusal
// shows its message.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, spaceUrl } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, t } from "../i18n.js";
import { principalLabel, ROLE_LABELS, RoleForm } from "../roles.js";
import { Problem } from "../widgets.js";
import { daysFromNow, isoDay, ShownOnce } from "./admin-common.js";

const STATES = {
  active: () => t("active"),
  expired: () => t("expired"),
  exhausted: () => t("exhausted"),
  revoked: () => t("revoked"),
};
const DAY = 86400000;
const DEFAULT_DAYS = 7;

/** `{space, node: {path, name, kind}, onClose}`: a modal dialog over the folder. */
export function ShareDialog({ space, node, onClose }) {
  const closeButton = useRef(null);
  const dialog = useRef(null);
  useEffect(() => {
    // Focus moves into the dialog, stays there while it is open (Tab wraps),
    // and goes back to the button that opened it when it closes.
    const opener = document.activeElement;
    closeButton.current?.focus();
    const onKey = (e) => {
      if (e.key === "Escape") onClose();
      else if (e.key === "Tab") keepFocusIn(dialog.current, e);
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    };
  }, []);
  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <section class="card share" role="dialog" aria-modal="true" aria-labelledby="share-title"
        ref=${dialog}>
        <div class="titlebar">
          <h2 id="share-title">${t("Share “{name}”", { name: node.name })}</h2>
          <button type="button" class="secondary" ref=${closeButton} onClick=${onClose}>${t("Close")}</button>
        </div>
        <${InternalShares} space=${space} node=${node} />
        <${ExternalLinks} space=${space} node=${node} />
      </section>
    </div>
  `;
}

/** Tab from the last focusable element of `box` goes to its first, Shift+Tab back. */
function keepFocusIn(box, event) {
  if (!box) return;
  const focusable = [...box.querySelectorAll("button, [href], input, select, textarea")].filter(
    (el) => !el.disabled && el.offsetParent !== null,
  );
  if (focusable.length === 0) return;
  const first = focusable[0];
  const last = focusable[focusable.length - 1];
  const inside = box.contains(document.activeElement);
  if (event.shiftKey && (document.activeElement === first || !inside)) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
    event.preventDefault();
    first.focus();
  }
}

function InternalShares({ space, node }) {
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const grantsUrl = spaceUrl(space, "grants", node.path);

  const load = async () => {
    const parts = node.path.split("/").filter(Boolean);
    const own = (await api("GET", grantsUrl)).map((g) => ({ ...g, inherited: null }));
    // Roles given above hold here too: the space's members and each folder up the path.
    // A caller who may not list them there just does not see them.
    const above = [api("GET", `/spaces/${encodeURIComponent(space)}/members`).then((list) => list.map((g) => ({ ...g, inherited: space })))];
    for (let i = 1; i < parts.length; i += 1) {
      const folder = parts.slice(0, i).join("/");
      above.push(api("GET", spaceUrl(space, "grants", folder)).then((list) => list.map((g) => ({ ...g, inherited: folder }))));
    }
    const inherited = (await Promise.allSettled(above)).flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    setRows([...own, ...inherited]);
  };
  useEffect(() => {
    load().catch(setError);
  }, [space, node.path]);

  const act = runner({ setError, setNotice, reload: load });

  const give = ({ principal, role, form }) =>
    act(async () => {
      await api("PUT", grantsUrl, { json: { principal, role } });
      form.reset();
      setNotice(t("{who} is now {role} of “{name}”.", { who: principalLabel(principal), role: ROLE_LABELS[role](), name: node.name }));
    });

  const remove = (grant) =>
    act(async () => {
      await api("DELETE", grantsUrl, { json: { principal: grant.principal } });
      setNotice(t("{who} has no role on “{name}” any more.", { who: principalLabel(grant.principal), name: node.name }));
    });

  return html`<section aria-labelledby="share-internal">
    <h3 id="share-internal">${t("People and groups")}</h3>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${rows === null && !error && html`<p role="status">${t("Loading…")}</p>`}
    ${rows?.length === 0 && html`<p class="muted">${t("No role is given on this item yet.")}</p>`}
    ${rows?.length > 0 &&
    html`<table class="listing grants">
      <caption class="visually-hidden">${t("Roles on “{name}”", { name: node.name })}</caption>
      <thead><tr>
        <th scope="col">${t("Who")}</th><th scope="col">${t("Role")}</th><th scope="col">${t("Given on")}</th>
        <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
      </tr></thead>
      <tbody>${rows.map((g) => html`<tr>
        <td>${principalLabel(g.principal)}</td>
        <td>${ROLE_LABELS[g.role]?.() ?? g.role}</td>
        <td>${g.inherited === null
          ? t("this item")
          : html`<span class="muted">${t("inherited from {where}", { where: g.inherited === space ? t("the whole space") : g.inherited })}</span>`}</td>
        <td><div class="actions">
          ${g.inherited === null &&
          html`<button type="button" class="danger small" onClick=${() => remove(g)}
            aria-label=${t("Remove the role of {who}", { who: principalLabel(g.principal) })}>${t("Remove")}</button>`}
        </div></td>
      </tr>`)}</tbody>
    </table>`}
    <${RoleForm} id="share" submitLabel=${t("Share")} onGive=${give} />
  </section>`;
}

function ExternalLinks({ space, node }) {
  const [policy, setPolicy] = useState(null);
  const [links, setLinks] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [made, setMade] = useState(null);
  const [kind, setKind] = useState("link");
  const linksUrl = spaceUrl(space, "links", node.path);
  const isFolder = node.kind === "folder";

  const load = () => api("GET", linksUrl).then(setLinks, setError);
  useEffect(() => {
    api("GET", `/spaces/${encodeURIComponent(space)}/link-policy`).then(setPolicy, setError);
    load();
  }, [space, node.path]);
  const act = runner({ setError, setNotice, reload: load });

  const create = async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    setMade(null);
    // The chosen day at the current time of day, a minute early: "7 days" stays
    // within a 7-day maximum.
    const today = new Date(`${isoDay(new Date())}T00:00:00`);
    const picked = new Date(`${data.get("expires")}T00:00:00`);
    const days = Math.round((picked - today) / DAY);
    const body = {
      expires_at: new Date(Date.now() + days * DAY - 60000).toISOString(),
      recipients: String(data.get("recipients")).split(/[\s,;]+/).filter(Boolean),
      require_verification: data.get("verify") === "on",
    };
    const password = String(data.get("password") ?? "");
    if (password) body.password = password;
    if (kind === "request") {
      body.kind = "request";
    } else {
      const limit = String(data.get("max_downloads") ?? "").trim();
      if (limit) body.max_downloads = Number(limit);
    }
    await act(async () => {
      const created = await api("POST", linksUrl, { json: body });
      form.reset();
      setKind("link");
      setMade(created);
    });
  };

  const revoke = (link) => {
    if (!window.confirm(t("Revoke this link? It stops working at once."))) return;
    act(async () => {
      await api("DELETE", `/links/id/${encodeURIComponent(link.id)}`);
      setNotice(t("The link is revoked."));
    });
  };

  const maxDays = policy?.max_days ?? DEFAULT_DAYS;
  const defaultDays = Math.min(DEFAULT_DAYS, maxDays);
  return html`<section aria-labelledby="share-external">
    <h3 id="share-external">${t("External links")}</h3>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${made &&
    html`<${ShownOnce} id="link-url" value=${made.url}
      label=${made.kind === "request" ? t("Address of the file request") : t("Address of the link")}
      hint=${t("Copy it now and send it to the recipients yourself: it is shown only this once, and Égide does not mail it.")} />`}
    ${policy && !policy.links_allowed && html`<p class="muted">${t("External links are not allowed in this space.")}</p>`}
    ${policy?.links_allowed &&
    html`<form class="card stack" onSubmit=${create}>
      ${isFolder &&
      html`<fieldset class="choices">
        <legend>${t("Kind of link")}</legend>
        <label class="check"><input type="radio" name="kind" value="link" checked=${kind === "link"}
          onChange=${() => setKind("link")} /> ${t("Download: the recipients get the files")}</label>
        <label class="check"><input type="radio" name="kind" value="request" checked=${kind === "request"}
          onChange=${() => setKind("request")} /> ${t("File request: the recipients send files, and see nothing here")}</label>
      </fieldset>`}
      <div class="fields">
        <div class="field">
          <label for="link-expires">${t("Expires on")}</label>
          <input id="link-expires" name="expires" type="date" required
            value=${isoDay(daysFromNow(defaultDays))} min=${isoDay(daysFromNow(1))} max=${isoDay(daysFromNow(maxDays))}
            aria-describedby="link-expires-help" />
          <p id="link-expires-help" class="muted">${t("At most {days} days in this space.", { days: maxDays })}</p>
        </div>
        <div class="field">
          <label for="link-recipients">${t("Recipients' e-mail addresses")}</label>
          <textarea id="link-recipients" name="recipients" rows="2" aria-describedby="link-recipients-help"></textarea>
          <p id="link-recipients-help" class="muted">${t("One or more, separated by commas or new lines.")}</p>
        </div>
        <div class="field">
          <label for="link-password">${t("Password (optional)")}</label>
          <input id="link-password" name="password" type="password" autocomplete="new-password" minlength="12" />
        </div>
        ${kind === "link" &&
        html`<div class="field">
          <label for="link-max">${t("Download limit (optional)")}</label>
          <input id="link-max" name="max_downloads" type="number" min="1" max="10000" />
        </div>`}
      </div>
      <label class="check">
        <input type="checkbox" name="verify" checked disabled=${policy.verification_required} />
        ${t("Recipients must verify their address with a code sent by e-mail")}
      </label>
      ${policy.verification_required &&
      html`<input type="hidden" name="verify" value="on" />
        <p class="muted">${t("Required in this space.")}</p>`}
      <button type="submit">${kind === "request" ? t("Make the file request") : t("Make the link")}</button>
    </form>`}
    ${links?.length === 0 && html`<p class="muted">${t("No external link to this item yet.")}</p>`}
    ${links?.length > 0 &&
    html`<table class="listing links">
      <caption class="visually-hidden">${t("Links to “{name}”", { name: node.name })}</caption>
      <thead><tr>
        <th scope="col">${t("Made by")}</th><th scope="col">${t("Expires")}</th>
        <th scope="col">${t("Recipients")}</th>
        <th scope="col" class="num">${t("Opens")}</th><th scope="col" class="num">${t("Downloads")}</th>
        <th scope="col">${t("State")}</th>
        <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
      </tr></thead>
      <tbody>${links.map((l) => html`<tr>
        <td>${l.created_by ?? ""}<br /><span class="muted">${formatDate(l.created_at)}</span>
          ${l.kind === "request" && html`<br /><span class="muted">${t("file request")}</span>`}</td>
        <td>${formatDate(l.expires_at)}</td>
        <td>${l.recipients.join(", ")}${l.has_password ? html`<br /><span class="muted">${t("with a password")}</span>` : ""}</td>
        <td class="num">${l.opens}</td>
        <td class="num">${l.max_downloads ? `${l.downloads} / ${l.max_downloads}` : l.downloads}</td>
        <td>${STATES[l.state]?.() ?? l.state}</td>
        <td><div class="actions">
          ${l.state === "active" &&
          html`<button type="button" class="danger small" onClick=${() => revoke(l)}
            aria-label=${t("Revoke the link made on {date}", { date: formatDate(l.created_at) })}>${t("Revoke")}</button>`}
        </div></td>
      </tr>`)}</tbody>
    </table>`}
  </section>`;
}
