// My account: who I am, my second factors, my web sessions and my API tokens (with revoke).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { formatDate, t } from "../i18n.js";
import { Problem } from "../widgets.js";
import { PasskeysSection } from "./passkeys.js";
import { NotificationPreferences } from "./notifications.js";

export function MePage({ me }) {
  const [mfa, setMfa] = useState(null);
  const [tokens, setTokens] = useState(null);
  const [sessions, setSessions] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);

  const loadTokens = () => api("GET", "/tokens").then(setTokens, setError);
  const loadSessions = () => api("GET", "/sessions").then(setSessions, setError);
  useEffect(() => {
    api("GET", "/me/mfa").then(setMfa, setError);
    loadSessions();
    loadTokens();
  }, []);

  const endSession = async (session) => {
    if (!window.confirm(t("End this session? The browser using it must sign in again."))) return;
    setError(null);
    try {
      await api("DELETE", `/sessions/${encodeURIComponent(session.id)}`);
      setNotice(t("Session ended."));
      await loadSessions();
    } catch (err) {
      setError(err);
    }
  };

  const revoke = async (token) => {
    if (!window.confirm(t("Revoke the token “{name}”? The programs using it stop at once.", { name: token.name }))) return;
    setError(null);
    try {
      await api("DELETE", `/tokens/${encodeURIComponent(token.id)}`);
      setNotice(t("Token “{name}” revoked.", { name: token.name }));
      await loadTokens();
    } catch (err) {
      setError(err);
    }
  };

  const live = (tokens ?? []).filter((tok) => !tok.revoked_at);
  return html`
    <section class="page">
      <h1>${t("My account")}</h1>
      <dl class="facts">
        <dt>${t("Name")}</dt><dd>${me.display_name || me.username}</dd>
        <dt>${t("User name")}</dt><dd>${me.username}</dd>
        ${mfa &&
        html`<dt>${t("Second factor")}</dt>
          <dd>
            ${mfa.totp ? t("Authenticator app set up.") : t("No authenticator app.")}
            ${" "}${t("Passkeys: {count}.", { count: mfa.passkeys })}
            ${" "}${t("Recovery codes left: {count}.", { count: mfa.recovery_codes_left })}
          </dd>`}
      </dl>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      <${PasskeysSection} onChanged=${() => api("GET", "/me/mfa").then(setMfa, setError)} />
      <${NotificationPreferences} />
      <h2>${t("My sessions")}</h2>
      ${sessions &&
      html`<table class="listing" id="my-sessions">
        <thead><tr>
          <th scope="col">${t("Browser")}</th><th scope="col">${t("Address")}</th>
          <th scope="col">${t("Signed in")}</th><th scope="col">${t("Last seen")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${sessions.map((ses) => html`<tr>
          <td>${ses.user_agent || t("unknown")}${ses.current ? html` <strong>(${t("this one")})</strong>` : ""}</td>
          <td>${ses.client_address || t("unknown")}</td>
          <td>${formatDate(ses.created_at)}</td>
          <td>${formatDate(ses.last_seen_at)}</td>
          <td><div class="actions">${!ses.current &&
            html`<button type="button" class="danger small" onClick=${() => endSession(ses)}
              aria-label=${t("End the session of {browser}", { browser: ses.user_agent || t("unknown") })}>${t("End")}</button>`}
          </div></td>
        </tr>`)}</tbody>
      </table>`}
      <h2>${t("My API tokens")}</h2>
      ${tokens && live.length === 0 &&
      html`<div class="empty"><p>${t("You have no API token.")}</p>
        <p>${t("A program gets one when you approve its sign-in on the “Sign in a program” page (egide login).")}</p></div>`}
      ${live.length > 0 &&
      html`<table class="listing">
        <thead><tr>
          <th scope="col">${t("Name")}</th><th scope="col">${t("Rights")}</th>
          <th scope="col">${t("Last used")}</th><th scope="col">${t("Expires on")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${live.map((tok) => html`<tr>
          <td>${tok.name}</td>
          <td>${tok.scopes.join(", ")}</td>
          <td>${tok.last_used_at ? formatDate(tok.last_used_at) : t("never")}</td>
          <td>${formatDate(tok.expires_at)}</td>
          <td><div class="actions">
            <button type="button" class="danger small" onClick=${() => revoke(tok)}
              aria-label=${t("Revoke {name}", { name: tok.name })}>${t("Revoke")}</button>
          </div></td>
        </tr>`)}</tbody>
      </table>`}
    </section>
  `;
}
