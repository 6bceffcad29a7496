// Ransomware incidents, for administrators and security officers
// (incident.manage): the list by status, one incident with its events, and
// Release (a false alarm), Confirm (an attack) and Restore files (put the
// files back as they were before the incident). The server decides; the
// page shows its answers and its messages.
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, language, t } from "../i18n.js";
import { linkClick } from "../router.js";
import { Problem } from "../widgets.js";

const STATUSES = ["open", "confirmed", "released"];

function statusLabel(status) {
  return { open: t("Open"), confirmed: t("Confirmed"), released: t("Released") }[status] ?? status;
}

function reasonLabel(reason) {
  return { score: t("Suspicious writes"), canary: t("Decoy file touched") }[reason] ?? reason;
}

function conflictLabel(reason) {
  return (
    {
      "changed-since": t("changed by someone else since"),
      "moved-since": t("moved by someone else since"),
      "name-taken": t("its name is taken"),
      "folder-gone": t("its folder is gone"),
      "version-purged": t("the earlier version no longer exists"),
    }[reason] ?? reason
  );
}

function score(value) {
  return new Intl.NumberFormat(language(), { maximumFractionDigits: 1 }).format(value);
}

/** A touched decoy is certain: its score is a sentinel, not a number to read. */
function incidentScore(incident) {
  return incident.reason === "canary" ? t("certain") : score(incident.score);
}

/** Who may see this page: the roles the policy gives incident.manage. */
export function canManageIncidents(me) {
  const roles = me?.global_roles ?? [];
  return roles.includes("admin") || roles.includes("security");
}

export function IncidentsPage({ id }) {
  return id ? html`<${IncidentDetail} id=${id} />` : html`<${IncidentList} />`;
}

function IncidentList() {
  const [status, setStatus] = useState("open");
  const [incidents, setIncidents] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    setIncidents(null);
    setError(null);
    const query = status ? `?status=${encodeURIComponent(status)}` : "";
    api("GET", `/incidents${query}`).then(setIncidents, setError);
  }, [status]);

  return html`
    <section class="page">
      <h1>${t("Ransomware incidents")}</h1>
      <p class="muted">${t("A user whose writes looked like ransomware, or who touched a decoy file, is suspended until an incident is released.")}</p>
      <div class="inline">
        <label for="incident-status">${t("Show")}</label>
        <select id="incident-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
          ${STATUSES.map((s) => html`<option value=${s}>${statusLabel(s)}</option>`)}
          <option value="">${t("All")}</option>
        </select>
      </div>
      <${Problem} error=${error} />
      ${incidents === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${incidents && incidents.length === 0 &&
      html`<div class="empty"><p>${t("No incident here.")}</p>
        <p>${t("Incidents appear here as soon as a user is suspended.")}</p></div>`}
      ${incidents && incidents.length > 0 &&
      html`<table class="listing" id="incidents">
        <caption class="visually-hidden">${t("Ransomware incidents")}</caption>
        <thead><tr>
          <th scope="col">${t("Opened")}</th><th scope="col">${t("User")}</th>
          <th scope="col">${t("Reason")}</th><th scope="col" class="num">${t("Score")}</th>
          <th scope="col" class="num">${t("Events")}</th><th scope="col">${t("Status")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${incidents.map((inc) => html`<tr key=${inc.id}>
          <td>${formatDate(inc.opened_at)}</td>
          <td><code>${inc.user_id ?? inc.principal_id}</code></td>
          <td>${reasonLabel(inc.reason)}</td>
          <td class="num">${incidentScore(inc)}</td>
          <td class="num">${inc.event_count}</td>
          <td>${statusLabel(inc.status)}</td>
          <td><div class="actions">
            <a class="button secondary small" href=${`/incidents/${encodeURIComponent(inc.id)}`} onClick=${linkClick}
              aria-label=${t("Details of the incident opened {when}", { when: formatDate(inc.opened_at) })}>${t("Details")}</a>
          </div></td>
        </tr>`)}</tbody>
      </table>`}
    </section>
  `;
}

function IncidentDetail({ id }) {
  const [incident, setIncident] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [restored, setRestored] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = () => api("GET", `/incidents/${encodeURIComponent(id)}`).then(setIncident, setError);
  useEffect(() => {
    setIncident(null);
    load();
  }, [id]);

  const run = runner({ setError, setNotice, setBusy });

  const release = () => {
    if (!window.confirm(t("Release this incident? The user can work again at once."))) return;
    run(async () => {
      setIncident(await api("POST", `/incidents/${encodeURIComponent(id)}/release`));
      setNotice(t("Incident released: the user can work again."));
    });
  };
  const confirmIt = () => {
    if (!window.confirm(t("Confirm this incident as an attack? The user stays suspended."))) return;
    run(async () => {
      setIncident(await api("POST", `/incidents/${encodeURIComponent(id)}/confirm`));
      setNotice(t("Incident confirmed: the user stays suspended."));
    });
  };
  const restore = () => {
    if (!window.confirm(t("Put the files back as they were before this incident?"))) return;
    run(async () => {
      setRestored(await api("POST", `/incidents/${encodeURIComponent(id)}/restore`));
      setNotice(t("Files restored."));
      await load();
    });
  };

  return html`
    <section class="page">
      <nav aria-label=${t("Breadcrumbs")} class="crumbs">
        <a href="/incidents" onClick=${linkClick}>${t("Ransomware incidents")}</a>
        <span aria-hidden="true">›</span>
        <span aria-current="page">${t("Incident")}</span>
      </nav>
      <h1>${t("Incident")}${incident ? ` — ${statusLabel(incident.status)}` : ""}</h1>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${incident === null && !error && html`<p role="status">${t("Loading…")}</p>`}
      ${incident &&
      html`<dl class="facts">
          <dt>${t("User")}</dt><dd><code>${incident.user_id ?? "—"}</code></dd>
          <dt>${t("Caught through")}</dt><dd>${incident.principal_kind} <code>${incident.principal_id}</code></dd>
          <dt>${t("Reason")}</dt><dd>${reasonLabel(incident.reason)}</dd>
          <dt>${t("Score")}</dt><dd>${incidentScore(incident)}</dd>
          <dt>${t("First suspicious event")}</dt><dd>${formatDate(incident.first_suspicious_at)}</dd>
          <dt>${t("Opened")}</dt><dd>${formatDate(incident.opened_at)}</dd>
          ${incident.restored_at &&
          html`<dt>${t("Files restored on")}</dt><dd>${formatDate(incident.restored_at)}</dd>`}
          ${incident.closed_at &&
          html`<dt>${t("Closed")}</dt><dd>${formatDate(incident.closed_at)} (${incident.closed_by ?? ""})</dd>`}
        </dl>
        <div class="buttons">
          ${incident.status !== "released" &&
          html`<button type="button" disabled=${busy} onClick=${release}>${t("Release")}</button>`}
          ${incident.status === "open" &&
          html`<button type="button" class="danger" disabled=${busy} onClick=${confirmIt}>${t("Confirm")}</button>`}
          <button type="button" class="secondary" disabled=${busy} onClick=${restore}>${t("Restore files")}</button>
        </div>
        ${restored &&
        html`<dl class="facts" id="restore-result">
          <dt>${t("Files restored")}</dt><dd>${restored.restored ?? 0}</dd>
          <dt>${t("Files brought back from the trash")}</dt><dd>${restored.undeleted ?? 0}</dd>
          <dt>${t("Names put back")}</dt><dd>${restored.renamed_back ?? 0}</dd>
          <dt>${t("Skipped")}</dt><dd>${restored.skipped ?? 0}</dd>
          <dt>${t("Conflicts")}</dt><dd>${(restored.conflicts ?? []).length}</dd>
        </dl>
        ${(restored.conflicts ?? []).length > 0 &&
        html`<table class="listing" id="restore-conflicts">
          <caption>${t("Left as they are")}</caption>
          <thead><tr><th scope="col">${t("File")}</th><th scope="col">${t("Why")}</th></tr></thead>
          <tbody>${restored.conflicts.map((c) => html`<tr>
            <td><code>${c.node_id}</code></td><td>${conflictLabel(c.reason)}</td>
          </tr>`)}</tbody>
        </table>`}`}
        <h2>${t("Events")}</h2>
        ${(incident.events ?? []).length === 0
          ? html`<p>${t("No event.")}</p>`
          : html`<table class="listing" id="incident-events">
              <caption class="visually-hidden">${t("Events")}</caption>
              <thead><tr>
                <th scope="col">${t("Time")}</th><th scope="col">${t("Kind")}</th>
                <th scope="col">${t("File")}</th><th scope="col" class="num">${t("Weight")}</th>
                <th scope="col">${t("Signals")}</th>
              </tr></thead>
              <tbody>${incident.events.map((ev) => html`<tr>
                <td>${formatDate(ev.at)}</td>
                <td>${ev.kind}</td>
                <td><code>${ev.node_id}</code></td>
                <td class="num">${score(ev.weight)}</td>
                <td>${ev.signals.join(", ")}</td>
              </tr>`)}</tbody>
            </table>`}`}
      <p><a href="/incidents" onClick=${linkClick}>${t("Back to the incidents")}</a></p>
    </section>
  `;
}
