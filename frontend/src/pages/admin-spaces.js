// Admin area, spaces: every space with its use and quotas ("12 Go" / "12 GB"),
// a new space, quotas changed, the external link policy of each space, and
// the way to its members.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatBytes, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Problem } from "../widgets.js";
import { SIZE_UNITS, sizeFrom, sizeParts } from "./admin-common.js";

const spaceUrl = (slug, rest) => `/spaces/${encodeURIComponent(slug)}${rest}`;

function badSize() {
  return new Error(t("Write the size as a number, for example 12 or 1.5, or leave it empty for no limit."));
}

/** A number field and a unit list, labelled; `name` prefixes the two fields. */
function SizeField({ id, name, label, bytes }) {
  const { amount, unit } = sizeParts(bytes);
  return html`<span class="size-field">
    <label for=${id}>${label}</label>
    <input id=${id} name=${`${name}_amount`} inputmode="decimal" value=${amount} size="8"
      placeholder=${t("no limit")} autocomplete="off" />
    <label class="visually-hidden" for=${`${id}-unit`}>${t("Unit of {what}", { what: label })}</label>
    <select id=${`${id}-unit`} name=${`${name}_unit`}>
      ${SIZE_UNITS.map((u) => html`<option value=${u.value} selected=${u.value === unit}>${u.label()}</option>`)}
    </select>
  </span>`;
}

function readSize(data, name) {
  const bytes = sizeFrom(data.get(`${name}_amount`), data.get(`${name}_unit`));
  if (Number.isNaN(bytes)) throw badSize();
  return bytes;
}

function quotaText(s) {
  return s.quota_bytes === null ? t("no limit") : formatBytes(s.quota_bytes);
}

export function AdminSpaces() {
  const [spaces, setSpaces] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [open, setOpen] = useState(null); // {slug, what: "quota" | "links"}
  const load = () => api("GET", "/admin/spaces").then(setSpaces, setError);
  useEffect(() => {
    load();
  }, []);
  const act = runner({ setError, setNotice, reload: load });

  const create = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const data = new FormData(form);
    act(async () => {
      const body = {
        slug: String(data.get("slug")).trim(),
        title: String(data.get("title")).trim() || null,
        quota_bytes: readSize(data, "quota"),
      };
      const made = await api("POST", "/spaces", { json: body });
      form.reset();
      setNotice(t("Space {name} created. Give roles on it from its members page.", { name: made.slug }));
    });
  };

  const saveQuota = (s, e) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    act(async () => {
      const body = { quota_bytes: readSize(data, "quota"), history_quota_bytes: readSize(data, "history") };
      const saved = await api("PUT", `/admin/spaces/${encodeURIComponent(s.slug)}/quota`, { json: body });
      setOpen(null);
      setNotice(t("Quota of {name}: {quota}.", { name: s.slug, quota: quotaText(saved) }));
    });
  };

  const toggle = (slug, what) => setOpen(open?.slug === slug && open.what === what ? null : { slug, what });
  const isOpen = (slug, what) => open?.slug === slug && open.what === what;

  return html`
    <h2>${t("Spaces and quotas")}</h2>
    <${Problem} error=${error} />
    ${notice && html`<p class="notice" role="status">${notice}</p>`}
    ${spaces === null && !error && html`<p role="status">${t("Loading…")}</p>`}
    ${spaces?.length > 0 &&
    html`<table class="listing">
      <caption class="visually-hidden">${t("Spaces and quotas")}</caption>
      <thead><tr>
        <th scope="col">${t("Space")}</th><th scope="col" class="num">${t("Used")}</th>
        <th scope="col" class="num">${t("Quota")}</th>
        <th scope="col" class="num">${t("Old versions and trash")}</th>
        <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
      </tr></thead>
      <tbody>${spaces.map((s) => html`<tr class=${open?.slug === s.slug ? "open" : ""}>
          <td><strong>${s.slug}</strong>${s.title && s.title !== s.slug && html`<br /><span class="muted">${s.title}</span>`}</td>
          <td class="num">${formatBytes(s.used_bytes)}
            ${s.quota_bytes !== null && html`<progress max=${s.quota_bytes || 1} value=${s.used_bytes}
              aria-label=${t("Quota used in {space}", { space: s.slug })}></progress>`}</td>
          <td class="num">${quotaText(s)}</td>
          <td class="num">${s.history_quota_bytes === null ? t("no limit") : formatBytes(s.history_quota_bytes)}</td>
          <td><div class="actions">
            <button type="button" class="secondary small" aria-expanded=${isOpen(s.slug, "quota") ? "true" : "false"}
              aria-label=${t("Quota of {name}", { name: s.slug })} onClick=${() => toggle(s.slug, "quota")}>${t("Quota")}</button>
            <button type="button" class="secondary small" aria-expanded=${isOpen(s.slug, "links") ? "true" : "false"}
              aria-label=${t("External links of {name}", { name: s.slug })} onClick=${() => toggle(s.slug, "links")}>${t("External links")}</button>
            <a class="button secondary small" href=${`/members/${encodeURIComponent(s.slug)}`} onClick=${linkClick}
              aria-label=${t("Members of {space}", { space: s.slug })}>${t("Members")}</a>
          </div></td>
        </tr>
        ${isOpen(s.slug, "quota") &&
        html`<tr class="detail"><td colspan="5">
          <form class="inline" onSubmit=${(e) => saveQuota(s, e)}>
            <${SizeField} id=${`quota-${s.slug}`} name="quota" label=${t("Quota")} bytes=${s.quota_bytes} />
            <${SizeField} id=${`history-${s.slug}`} name="history" label=${t("Old versions and trash")} bytes=${s.history_quota_bytes} />
            <button type="submit">${t("Save")}</button>
            <button type="button" class="secondary" onClick=${() => setOpen(null)}>${t("Cancel")}</button>
          </form>
        </td></tr>`}
        ${isOpen(s.slug, "links") &&
        html`<tr class="detail"><td colspan="5">
          <${LinkPolicy} slug=${s.slug} onSaved=${(text) => { setOpen(null); setNotice(text); }} />
        </td></tr>`}`)}
      </tbody>
    </table>`}

    <h2>${t("New space")}</h2>
    <form class="card stack admin-form" onSubmit=${create}>
      <label for="new-space-slug">${t("Short name (in the address)")}</label>
      <input id="new-space-slug" name="slug" required minlength="2" maxlength="63" autocomplete="off"
        aria-describedby="new-space-slug-help" />
      <p id="new-space-slug-help" class="muted">${t("Lower-case letters, digits and hyphens, for example cardiologie.")}</p>
      <label for="new-space-title">${t("Title")}</label>
      <input id="new-space-title" name="title" maxlength="200" autocomplete="off" />
      <${SizeField} id="new-space-quota" name="quota" label=${t("Quota")} bytes=${null} />
      <button type="submit">${t("Create the space")}</button>
    </form>
  `;
}

function LinkPolicy({ slug, onSaved }) {
  const [policy, setPolicy] = useState(null);
  const [error, setError] = useState(null);
  const url = spaceUrl(slug, "/link-policy");
  useEffect(() => {
    api("GET", url).then(setPolicy, setError);
  }, [slug]);
  const save = async (e) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    setError(null);
    try {
      const text = String(data.get("max_days")).trim();
      const saved = await api("PUT", url, {
        json: {
          links_allowed: data.get("links_allowed") === "on",
          verification_required: data.get("verification_required") === "on",
          max_days: text ? Number(text) : 0,
        },
      });
      onSaved(
        saved.links_allowed
          ? t("External links of {name}: allowed, {days} days at most.", { name: slug, days: saved.max_days })
          : t("External links of {name}: not allowed.", { name: slug }),
      );
    } catch (err) {
      setError(err);
    }
  };
  if (!policy) return error ? html`<${Problem} error=${error} />` : html`<p role="status">${t("Loading…")}</p>`;
  return html`<form class="inline" onSubmit=${save}>
    <${Problem} error=${error} />
    <label class="check"><input type="checkbox" name="links_allowed" checked=${policy.links_allowed} />
      ${t("External links allowed")}</label>
    <label class="check"><input type="checkbox" name="verification_required" checked=${policy.verification_required} />
      ${t("Recipients must always verify their address")}</label>
    <label for=${`max-days-${slug}`}>${t("Longest lifetime (days)")}</label>
    <input id=${`max-days-${slug}`} name="max_days" type="number" min="1" max="3650" value=${policy.max_days} />
    <button type="submit">${t("Save")}</button>
  </form>`;
}
