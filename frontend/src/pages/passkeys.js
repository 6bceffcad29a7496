// My passkeys, on the account page: the list (name, added, last used), add
// one (the WebAuthn registration ceremony: options from the server, the
// browser's navigator.credentials.create(), its answer back to the server),
// rename, and remove (the server asks for the password or a current code).
import { useEffect, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, setCsrfToken } from "../api.js";
import { runner } from "../actions.js";
import { formatDate, t } from "../i18n.js";
import { Problem } from "../widgets.js";
import { creationOptions, credentialJson, passkeysSupported as supported } from "../webauthn.js";

export function PasskeysSection({ onChanged }) {
  const [passkeys, setPasskeys] = useState(null);
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState(null); // {id, mode: "rename" | "remove"}
  const [codes, setCodes] = useState(null);

  const load = () => api("GET", "/me/mfa/passkeys").then(setPasskeys, setError);
  useEffect(() => {
    load();
  }, []);

  const run = runner({
    setError,
    setNotice,
    setBusy,
    onError: (err) => {
      // The browser's own refusal (cancelled, timed out) is a DOMException: say it plainly.
      if (err?.name === "NotAllowedError" || err?.name === "AbortError") {
        setError({ message: t("The passkey was not created: the request was cancelled or timed out. Try again.") });
      } else if (err?.name === "InvalidStateError") {
        setError({ message: t("This authenticator already holds a passkey of yours.") });
      } else {
        setError(err);
      }
    },
  });

  const add = (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const name = String(new FormData(form).get("name")).trim();
    run(async () => {
      const options = await api("POST", "/me/mfa/passkeys/options");
      const credential = await navigator.credentials.create({ publicKey: creationOptions(options) });
      if (!credential) throw new Error(t("No passkey was given. Try again."));
      const done = await api("POST", "/me/mfa/passkeys", {
        json: { name, credential: credentialJson(credential) },
      });
      if (done.session) setCsrfToken(done.session.csrf_token);
      if (done.recovery_codes?.length) setCodes(done.recovery_codes);
      form.reset();
      setNotice(t("Passkey “{name}” added.", { name: done.passkey.name }));
      await load();
      onChanged?.();
    });
  };

  const rename = (passkey) => (e) => {
    e.preventDefault();
    const name = String(new FormData(e.currentTarget).get("name")).trim();
    run(async () => {
      await api("PATCH", `/me/mfa/passkeys/${encodeURIComponent(passkey.id)}`, { json: { name } });
      setOpen(null);
      setNotice(t("Passkey renamed “{name}”.", { name }));
      await load();
    });
  };

  const remove = (passkey) => (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const password = String(form.get("current_password") ?? "");
    const code = String(form.get("code") ?? "").trim();
    if (!password && !code) {
      setError({ message: t("Type your password or a current code to remove a passkey.") });
      return;
    }
    run(async () => {
      await api("DELETE", `/me/mfa/passkeys/${encodeURIComponent(passkey.id)}`, {
        json: code ? { code } : { current_password: password },
      });
      setOpen(null);
      setNotice(t("Passkey “{name}” removed.", { name: passkey.name }));
      await load();
      onChanged?.();
    });
  };

  return html`
    <section aria-labelledby="passkeys-title" class="passkeys">
      <h2 id="passkeys-title">${t("My passkeys")}</h2>
      <p class="muted">${t("A passkey (security key, phone, or this computer with its PIN or fingerprint) replaces the code of the authenticator app at sign-in.")}</p>
      <${Problem} error=${error} />
      ${notice && html`<p class="notice" role="status">${notice}</p>`}
      ${codes &&
      html`<div class="card">
        <h3>${t("Your recovery codes")}</h3>
        <p>${t("Keep these ten codes somewhere safe: each one lets you sign in once without the app. They are shown only now.")}</p>
        <ol class="codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
        <button type="button" class="secondary" onClick=${() => setCodes(null)}>${t("I have saved them, continue")}</button>
      </div>`}
      ${passkeys && passkeys.length === 0 && html`<p>${t("You have no passkey.")}</p>`}
      ${passkeys && passkeys.length > 0 &&
      html`<table class="listing" id="my-passkeys">
        <caption class="visually-hidden">${t("My passkeys")}</caption>
        <thead><tr>
          <th scope="col">${t("Name")}</th><th scope="col">${t("Added")}</th>
          <th scope="col">${t("Last used")}</th>
          <th scope="col"><span class="visually-hidden">${t("Actions")}</span></th>
        </tr></thead>
        <tbody>${passkeys.map((pk) => html`<tr key=${pk.id}>
            <td>${pk.name}${pk.backed_up ? html` <span class="muted">(${t("synced")})</span>` : ""}</td>
            <td>${formatDate(pk.created_at)}</td>
            <td>${pk.last_used_at ? formatDate(pk.last_used_at) : t("never")}</td>
            <td><div class="actions">
              <button type="button" class="secondary small" aria-expanded=${open?.id === pk.id && open.mode === "rename" ? "true" : "false"}
                aria-label=${t("Rename {name}", { name: pk.name })}
                onClick=${() => setOpen(open?.id === pk.id && open.mode === "rename" ? null : { id: pk.id, mode: "rename" })}>${t("Rename")}</button>
              <button type="button" class="danger small" aria-expanded=${open?.id === pk.id && open.mode === "remove" ? "true" : "false"}
                aria-label=${t("Remove {name}", { name: pk.name })}
                onClick=${() => setOpen(open?.id === pk.id && open.mode === "remove" ? null : { id: pk.id, mode: "remove" })}>${t("Remove")}</button>
            </div></td>
          </tr>
          ${open?.id === pk.id && open.mode === "rename" &&
          html`<tr class="detail"><td colspan="4">
            <form class="inline" onSubmit=${rename(pk)}>
              <label for=${`pk-name-${pk.id}`}>${t("New name")}</label>
              <input id=${`pk-name-${pk.id}`} name="name" required maxlength="100" value=${pk.name} autofocus />
              <button type="submit" disabled=${busy}>${t("Rename")}</button>
              <button type="button" class="secondary" onClick=${() => setOpen(null)}>${t("Cancel")}</button>
            </form>
          </td></tr>`}
          ${open?.id === pk.id && open.mode === "remove" &&
          html`<tr class="detail"><td colspan="4">
            <form class="inline" onSubmit=${remove(pk)}>
              <p class="fill">${t("To remove “{name}”, confirm with your password or a current code.", { name: pk.name })}</p>
              <label for=${`pk-password-${pk.id}`}>${t("Password")}</label>
              <input id=${`pk-password-${pk.id}`} name="current_password" type="password" autocomplete="current-password" autofocus />
              <label for=${`pk-code-${pk.id}`}>${t("or a code")}</label>
              <input id=${`pk-code-${pk.id}`} name="code" autocomplete="one-time-code" maxlength="64" />
              <button type="submit" class="danger" disabled=${busy}>${t("Remove")}</button>
              <button type="button" class="secondary" onClick=${() => setOpen(null)}>${t("Cancel")}</button>
            </form>
          </td></tr>`}`)}
        </tbody>
      </table>`}
      ${supported()
        ? html`<form class="inline" onSubmit=${add}>
            <label for="passkey-name">${t("Name of the new passkey")}</label>
            <input id="passkey-name" name="name" required maxlength="100" placeholder=${t("e.g. Office key")} />
            <button type="submit" disabled=${busy}>${t("Add a passkey")}</button>
          </form>`
        : html`<p class="muted">${t("This browser cannot use passkeys.")}</p>`}
    </section>
  `;
}
