// Log-in: password, then what the server asks for: a forced password change,
// the second factor (code, recovery code or passkey), or setting one up
// (QR code, then the ten recovery codes shown once). SSO when configured.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { api, setCsrfToken } from "../api.js";
import { runner } from "../actions.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import { Problem } from "../widgets.js";
import { credentialJson, passkeysSupported, requestOptions } from "../webauthn.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only a path of this site: never //host, /\host (browsers read "\" as "/"),
  // a URL or control characters; what the URL parser makes of it must stay here.
  if (!next.startsWith("/") || /^\/[/\\]|[\\\u0000-\u001f]/.test(next)) return "/";
  try {
    const url = new URL(next, location.origin);
    if (url.origin !== location.origin || url.pathname.startsWith("/login")) return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}

export function LoginPage({ onSignedIn }) {
  const [step, setStep] = useState("password");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState(null);
  const [enrolment, setEnrolment] = useState(null);
  const [codes, setCodes] = useState(null);
  const password = useRef("");

  useEffect(() => {
    api("GET", "/sso", { anonymous: true })
      .then((info) => setSso(info.enabled ? info : null))
      .catch(() => setSso(null));
  }, []);

  const run = runner({ setError, setBusy });

  const finish = async () => {
    const me = await api("GET", "/me", { anonymous: true });
    onSignedIn(me);
    navigate(nextPath(), { replace: true });
  };

  // Where a session answer leads: the next step the server asks for.
  const follow = async (session) => {
    setCsrfToken(session.csrf_token);
    if (session.password_change_required) {
      setStep("change");
    } else if (session.mfa_enrolment_required) {
      setEnrolment(await api("POST", "/me/mfa/totp", { anonymous: true }));
      setStep("enrol");
    } else if (session.mfa_required) {
      setStep("mfa");
    } else {
      password.current = "";
      await finish();
    }
  };

  const submitPassword = (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    password.current = String(form.get("password"));
    run(async () => {
      const session = await api("POST", "/session", {
        anonymous: true,
        json: { username: String(form.get("username")).trim(), password: password.current },
      });
      await follow(session);
    });
  };

  const submitChange = (e) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const fresh = String(form.get("new_password"));
    if (fresh !== String(form.get("confirm_password"))) {
      setError({ message: t("The two new passwords differ. Type the same one twice."), field: "confirm_password" });
      return;
    }
    run(async () => {
      const session = await api("POST", "/me/password", {
        anonymous: true,
        json: { current_password: password.current, new_password: fresh },
      });
      password.current = "";
      await follow(session);
    });
  };

  const submitCode = (e) => {
    e.preventDefault();
    const code = String(new FormData(e.currentTarget).get("code")).trim();
    run(async () => {
      const session = await api("POST", "/session/mfa", { anonymous: true, json: { code } });
      await follow(session);
    });
  };

  const usePasskey = () =>
    run(async () => {
      const options = await api("POST", "/session/mfa/passkey/options", { anonymous: true });
      const credential = await navigator.credentials.get({ publicKey: requestOptions(options) });
      if (!credential) throw new Error(t("No passkey was given. Try again, or type a code."));
      const session = await api("POST", "/session/mfa/passkey", {
        anonymous: true,
        json: { credential: credentialJson(credential) },
      });
      await follow(session);
    });

  const submitEnrolment = (e) => {
    e.preventDefault();
    const code = String(new FormData(e.currentTarget).get("code")).trim();
    run(async () => {
      const done = await api("POST", "/me/mfa/totp/confirm", { anonymous: true, json: { code } });
      setCsrfToken(done.session.csrf_token);
      setCodes(done.recovery_codes);
      setStep("codes");
    });
  };

  const hasPasskeys = passkeysSupported();

  let body;
  if (step === "password") {
    body = html`
      <h1>${t("Sign in")}</h1>
      <form onSubmit=${submitPassword} class="stack">
        <label for="username">${t("User name")}</label>
        <input id="username" name="username" autocomplete="username" required autofocus />
        <label for="password">${t("Password")}</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <${Problem} error=${error} />
        <button type="submit" disabled=${busy}>${t("Sign in")}</button>
      </form>
      ${sso &&
      html`<p class="or">${t("or")}</p>
        <a class="button secondary" href=${`${sso.login_url}?return_to=${encodeURIComponent(nextPath())}`}>
          ${t("Sign in with {provider}", { provider: sso.display_name })}
        </a>`}
    `;
  } else if (step === "change") {
    body = html`
      <h1>${t("Choose a new password")}</h1>
      <p>${t("Your password was chosen by someone else: replace it with one only you know.")}</p>
      <form onSubmit=${submitChange} class="stack">
        <label for="new_password">${t("New password")}</label>
        <input id="new_password" name="new_password" type="password" autocomplete="new-password" required autofocus />
        <label for="confirm_password">${t("New password, again")}</label>
        <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required />
        <${Problem} error=${error} />
        <button type="submit" disabled=${busy}>${t("Change the password")}</button>
      </form>
    `;
  } else if (step === "mfa") {
    body = html`
      <h1>${t("Second factor")}</h1>
      <form onSubmit=${submitCode} class="stack">
        <label for="code">${t("Code of your authenticator app, or a recovery code")}</label>
        <input id="code" name="code" autocomplete="one-time-code" inputmode="text" required autofocus />
        <${Problem} error=${error} />
        <button type="submit" disabled=${busy}>${t("Continue")}</button>
      </form>
      ${hasPasskeys &&
      html`<p class="or">${t("or")}</p>
        <button type="button" class="secondary" disabled=${busy} onClick=${usePasskey}>
          ${t("Use a passkey")}
        </button>`}
    `;
  } else if (step === "enrol") {
    body = html`
      <h1>${t("Set up your authenticator app")}</h1>
      <p>${t("Scan this QR code with an authenticator app, then type the code it shows.")}</p>
      <img class="qr" alt=${t("QR code to scan with the authenticator app")}
        src=${svgDataUrl(enrolment.svg)} />
      <details>
        <summary>${t("Cannot scan? Show the key to type")}</summary>
        <code class="secret">${new URL(enrolment.uri).searchParams.get("secret")}</code>
      </details>
      <form onSubmit=${submitEnrolment} class="stack">
        <label for="code">${t("Code shown by the app")}</label>
        <input id="code" name="code" autocomplete="one-time-code" inputmode="numeric" required autofocus />
        <${Problem} error=${error} />
        <button type="submit" disabled=${busy}>${t("Confirm")}</button>
      </form>
    `;
  } else {
    body = html`
      <h1>${t("Your recovery codes")}</h1>
      <p>${t("Keep these ten codes somewhere safe: each one lets you sign in once without the app. They are shown only now.")}</p>
      <ol class="codes">${codes.map((c) => html`<li><code>${c}</code></li>`)}</ol>
      <${Problem} error=${error} />
      <button type="button" disabled=${busy} onClick=${() => run(finish)}>${t("I have saved them, continue")}</button>
    `;
  }
  // A step's own key: its inputs are new elements, never the last step's with its value.
  return html`<section class="page narrow card" key=${step}>${body}</section>`;
}

/** The API's inline SVG as an image URL: never inserted as markup (CSP, and no script). */
function svgDataUrl(svg) {
  const standalone = svg.includes("xmlns=") ? svg : svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"');
  const bytes = new TextEncoder().encode(standalone);
  let raw = "";
  for (const b of bytes) raw += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(raw)}`;
}

