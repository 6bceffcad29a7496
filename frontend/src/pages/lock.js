// The idle lock: the server locked the session; the password unlocks it and
// the page underneath keeps its state (the calls waiting on it then retry).
import { useState } from "preact/hooks";
import { html } from "../html.js";
import { api } from "../api.js";
import { runner } from "../actions.js";
import { t } from "../i18n.js";
import { Glyph, Problem } from "../widgets.js";

export function LockScreen({ me, onUnlocked }) {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = runner({ setError, setBusy });
  const submit = (e) => {
    e.preventDefault();
    const password = String(new FormData(e.currentTarget).get("password"));
    run(async () => {
      await api("POST", "/session/unlock", { anonymous: true, json: { password } });
      onUnlocked();
    });
  };
  return html`
    <div class="overlay">
      <section class="card narrow lock" role="dialog" aria-modal="true" aria-labelledby="lock-title">
        <h1 id="lock-title"><${Glyph} name="lock" /> ${t("Session locked")}</h1>
        <p>
          ${me
            ? t("{name}, your session was locked after a while without activity. Type your password to go on where you were.", { name: me.display_name || me.username })
            : t("Your session was locked after a while without activity. Type your password to go on where you were.")}
        </p>
        <form onSubmit=${submit} class="stack">
          <label for="unlock-password">${t("Password")}</label>
          <input id="unlock-password" name="password" type="password" autocomplete="current-password" required autofocus />
          <${Problem} error=${error} />
          <button type="submit" disabled=${busy}>${t("Unlock")}</button>
        </form>
      </section>
    </div>
  `;
}
