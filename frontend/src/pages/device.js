// /device: approve or deny a program's sign-in (RFC 8628). The user types
// the code the program shows, sees what it asks for, then decides.
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, t } from "../i18n.js";
import { Problem } from "../widgets.js";

const SCOPES = {
  "files:read": () => t("read your files"),
  "files:write": () => t("add and change your files"),
  "shares:manage": () => t("manage your sharing links"),
  admin: () => t("administer Égide"),
  "audit:read": () => t("read the audit log"),
};

export function DevicePage() {
  const [request, setRequest] = useState(null);
  const [code, setCode] = useState("");
  const [decision, setDecision] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const run = runner({ setError, setBusy });

  const lookup = (e) => {
    e.preventDefault();
    const userCode = String(new FormData(e.currentTarget).get("user_code")).trim();
    run(async () => {
      setRequest(await api("POST", "/device/lookup", { json: { user_code: userCode } }));
      setCode(userCode);
    });
  };

  const decide = (approve) =>
    run(async () => {
      const done = await api("POST", "/device/approve", { json: { user_code: code, approve } });
      setDecision(done.approved ? "approved" : "denied");
    });

  let body;
  if (decision) {
    body = html`<p class="notice" role="status">
      ${decision === "approved"
        ? t("Done: the program is signed in. You can close this page.")
        : t("Refused: the program gets nothing. You can close this page.")}
    </p>`;
  } else if (!request) {
    body = html`
      <p>${t("A program (for example the egide command line) shows a code of eight letters. Type it here to let it act for you.")}</p>
      <form class="stack" onSubmit=${lookup}>
        <label for="user_code">${t("Code shown by the program")}</label>
        <input id="user_code" name="user_code" required autocomplete="off" autocapitalize="characters"
          spellcheck="false" placeholder="BCDF-GHJK" autofocus />
        <${Problem} error=${error} />
        <button type="submit" disabled=${busy}>${t("Continue")}</button>
      </form>
    `;
  } else {
    body = html`
      <dl class="facts">
        <dt>${t("Program")}</dt><dd><strong>${request.client_name}</strong></dd>
        <dt>${t("It asks to")}</dt>
        <dd><ul>${request.scopes.map((s) => html`<li>${SCOPES[s]?.() ?? s}</li>`)}</ul></dd>
        <dt>${t("It will be allowed to")}</dt>
        <dd>${request.granted_scopes.length
          ? html`<ul>${request.granted_scopes.map((s) => html`<li>${SCOPES[s]?.() ?? s}</li>`)}</ul>`
          : t("nothing: your roles allow none of it")}</dd>
        <dt>${t("Asked at")}</dt><dd>${formatDate(request.created_at)}</dd>
      </dl>
      <p>${t("Approve only if you started this yourself, just now.")}</p>
      <${Problem} error=${error} />
      <div class="buttons">
        <button type="button" disabled=${busy} onClick=${() => decide(true)}>${t("Approve")}</button>
        <button type="button" class="danger" disabled=${busy} onClick=${() => decide(false)}>${t("Deny")}</button>
      </div>
    `;
  }
  return html`<section class="page narrow card"><h1>${t("Sign in a program")}</h1>${body}</section>`;
}
