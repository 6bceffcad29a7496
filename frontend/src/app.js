// The application shell: header (user, language switch, log-out), the lock
// screen over the current page, and the routes.
import { useEffect, useState } from "preact/hooks";
import { html } from "./html.js";
import { api, onSessionLocked, setCsrfToken } from "./api.js";
import { LANGUAGES, language, onLanguageChange, setLanguage, t } from "./i18n.js";
import { linkClick, navigate, segments, useLocation } from "./router.js";
import { LoginPage } from "./pages/login.js";
import { SpacesPage } from "./pages/spaces.js";
import { FolderPage } from "./pages/folder.js";
import { TrashPage } from "./pages/trash.js";
import { DevicePage } from "./pages/device.js";
import { MePage } from "./pages/me.js";
import { MembersPage } from "./pages/members.js";
import { LockScreen } from "./pages/lock.js";
import { AdminPage } from "./pages/admin.js";
import { SharedPage } from "./pages/shared.js";
import { IncidentsPage, canManageIncidents } from "./pages/incidents.js";
import { NotificationBell, NotificationsPage } from "./pages/notifications.js";
import { LinkPage } from "./pages/link.js";

export function App() {
  const loc = useLocation();
  const [, setLang] = useState(language());
  const [me, setMe] = useState(null);
  const [locked, setLocked] = useState(null);

  useEffect(() => onLanguageChange(setLang), []);
  useEffect(() => {
    document.title = t("Égide — encrypted vault");
  });

  useEffect(() => {
    // One lock screen for every call waiting on it: they retry once unlocked.
    let waiting = null;
    onSessionLocked(() => {
      if (!waiting) {
        waiting = new Promise((resolve) => {
          setLocked({
            done: () => {
              waiting = null;
              setLocked(null);
              resolve();
            },
          });
        });
      }
      return waiting;
    });
  }, []);

  const pathname = loc.split("?")[0];
  const parts = segments(pathname);
  const isLogin = parts[0] === "login";
  // A recipient's page (share link, file request) needs no account: no /me, no log-in.
  const isLink = parts[0] === "links" && parts.length === 2;

  useEffect(() => {
    if (isLogin || isLink) return;
    api("GET", "/me")
      .then((who) => {
        if (who.password_change_required) navigate("/login", { replace: true });
        else setMe(who);
      })
      .catch(() => {});
  }, [isLogin, isLink]);

  let page;
  if (isLogin) {
    page = html`<${LoginPage} onSignedIn=${setMe} />`;
  } else if (isLink) {
    page = html`<${LinkPage} token=${parts[1]} />`;
  } else if (!me) {
    page = html`<p class="loading" role="status">${t("Loading…")}</p>`;
  } else if (parts.length === 0 || (parts[0] === "spaces" && parts.length === 1)) {
    page = html`<${SpacesPage} />`;
  } else if (parts[0] === "spaces") {
    page = html`<${FolderPage} space=${parts[1]} path=${parts.slice(2)} />`;
  } else if (parts[0] === "trash" && parts[1]) {
    page = html`<${TrashPage} space=${parts[1]} />`;
  } else if (parts[0] === "members" && parts[1]) {
    page = html`<${MembersPage} space=${parts[1]} />`;
  } else if (parts[0] === "admin") {
    page = html`<${AdminPage} section=${parts[1] ?? "users"} me=${me} />`;
  } else if (parts[0] === "shared") {
    page = html`<${SharedPage} />`;
  } else if (parts[0] === "notifications" && parts.length === 1) {
    page = html`<${NotificationsPage} />`;
  } else if (parts[0] === "me") {
    page = html`<${MePage} me=${me} />`;
  } else if (parts[0] === "device") {
    page = html`<${DevicePage} />`;
  } else if (parts[0] === "incidents" && parts.length <= 2) {
    page = html`<${IncidentsPage} id=${parts[1]} />`;
  } else {
    page = html`<section class="page">
      <h1>${t("Page not found")}</h1>
      <p><a href="/" onClick=${linkClick}>${t("Back to my spaces")}</a></p>
    </section>`;
  }

  return html`
    <a class="skip" href="#main">${t("Skip to content")}</a>
    <${Header} me=${isLogin || isLink ? null : me} onSignedOut=${() => setMe(null)} inert=${!!locked} />
    <main id="main" tabindex="-1" inert=${locked ? true : undefined}>${page}</main>
    ${locked && html`<${LockScreen} me=${me} onUnlocked=${locked.done} />`}
  `;
}

function Header({ me, onSignedOut, inert }) {
  const signOut = async () => {
    try {
      await api("DELETE", "/session", { anonymous: true });
    } catch {
      // already ended: go to the log-in page all the same
    }
    setCsrfToken(null);
    onSignedOut();
    navigate("/login");
  };
  return html`
    <header class="topbar" inert=${inert ? true : undefined}>
      <a class="brand" href="/" onClick=${linkClick}>Égide</a>
      <nav class="topnav" aria-label=${t("Main")}>
        ${me && html`<a href="/" onClick=${linkClick}>${t("My spaces")}</a>`}
        ${me && html`<a href="/shared" onClick=${linkClick}>${t("Shared with me")}</a>`}
        ${me?.global_roles?.includes("admin") && html`<a href="/admin" onClick=${linkClick}>${t("Admin area")}</a>`}
        ${canManageIncidents(me) && html`<a href="/incidents" onClick=${linkClick}>${t("Incidents")}</a>`}
      </nav>
      <div class="topbar-end">
        <div class="lang" role="group" aria-label=${t("Language")}>
          ${LANGUAGES.map(
            (lang) => html`<button
              type="button"
              class="lang-button"
              lang=${lang}
              aria-pressed=${language() === lang ? "true" : "false"}
              title=${lang === "fr" ? "Français" : "English"}
              onClick=${() => setLanguage(lang)}
            >
              ${lang.toUpperCase()}
            </button>`,
          )}
        </div>
        ${me && html`<${NotificationBell} />`}
        ${me &&
        html`<a class="user" href="/me" onClick=${linkClick} title=${t("My account")}>${me.display_name || me.username}</a>
          <button type="button" class="secondary" onClick=${signOut}>${t("Sign out")}</button>`}
      </div>
    </header>
  `;
}
