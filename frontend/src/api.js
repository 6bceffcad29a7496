// The one way the pages talk to the server: /api/v1, JSON, the session
// cookie and its CSRF token. No business rule here: the server decides,
// and its problem+json message is what the user reads.
import { language, t } from "./i18n.js";
import { navigate } from "./router.js";

const CSRF_KEY = "egide.csrf";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || t("The server could not answer. Try again."));
    this.status = status;
    this.problem = problem ?? {};
    this.code = String(this.problem.type ?? "").replace("urn:egide:problem:", "");
    this.field = this.problem.field;
  }
}

export function csrfToken() {
  try {
    return localStorage.getItem(CSRF_KEY);
  } catch {
    return null;
  }
}

export function setCsrfToken(token) {
  try {
    if (token) localStorage.setItem(CSRF_KEY, token);
    else localStorage.removeItem(CSRF_KEY);
  } catch {
    // storage disabled: the session works until the page reloads
  }
}

/** After a single sign-on, the server hands the CSRF token over in a short cookie. */
export function adoptSsoCsrfCookie() {
  const match = document.cookie.match(/(?:^|;\s*)egide_csrf=([^;]+)/);
  if (!match) return;
  setCsrfToken(decodeURIComponent(match[1]));
  document.cookie = "egide_csrf=; Max-Age=0; Path=/; SameSite=Strict";
}

/** Headers every call sends; unsafe methods add the CSRF token. */
export function apiHeaders(method = "GET") {
  const headers = { Accept: "application/json", "Accept-Language": language() };
  const csrf = csrfToken();
  if (UNSAFE.has(method) && csrf) headers["X-CSRF-Token"] = csrf;
  return headers;
}

let lockHandler = null;
/** The shell registers how to unlock: a function returning a promise resolved once unlocked. */
export function onSessionLocked(fn) {
  lockHandler = fn;
}

function here() {
  return location.pathname + location.search;
}

export function loginUrl(next = here()) {
  return next && next !== "/" && !next.startsWith("/login")
    ? `/login?next=${encodeURIComponent(next)}`
    : "/login";
}

const TO_LOGIN = new Set(["mfa-required", "mfa-enrolment-required", "password-change-required"]);

/**
 * Call the API. `options.json` is sent as the JSON body; `options.anonymous`
 * turns off the redirect to the log-in page (the log-in page's own calls);
 * `options.background` marks a call the page makes by itself (a poll).
 * Resolves with the parsed JSON (or null for 204), rejects with ApiError.
 */
export async function api(method, path, options = {}) {
  const headers = apiHeaders(method);
  // A call the page makes by itself (a poll) is no activity: the idle lock still
  // comes, and meeting it does not open the lock screen (the user's next action does).
  if (options.background) headers["Egide-Activity"] = "background";
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body,
      credentials: "same-origin",
      signal: options.signal,
    });
  } catch (err) {
    if (err?.name === "AbortError") throw err;
    throw new ApiError(0, { detail: t("The server cannot be reached. Check the connection and try again.") });
  }
  if (response.ok) {
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") ?? "";
    return type.includes("json") ? response.json() : response.text();
  }
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = null;
  }
  const error = new ApiError(response.status, problem);
  if (!options.anonymous) {
    if (response.status === 401 && error.code === "session-locked" && options.background) {
      throw error;
    }
    if (response.status === 401 && error.code === "session-locked" && lockHandler) {
      await lockHandler();
      return api(method, path, options);
    }
    if (response.status === 401) {
      setCsrfToken(null);
      navigate(loginUrl(), { replace: true });
    } else if (response.status === 403 && TO_LOGIN.has(error.code)) {
      navigate(loginUrl(), { replace: true });
    }
  }
  throw error;
}

/** The URL of a space's API, path segments encoded. */
export function spaceUrl(space, kind, path = "") {
  const encoded = path
    .split("/")
    .filter(Boolean)
    .map((p) => encodeURIComponent(p))
    .join("/");
  return `/spaces/${encodeURIComponent(space)}/${kind}${encoded ? `/${encoded}` : kind === "nodes" ? "/" : ""}`;
}

/** Ask the user to unlock the session (the lock screen), resolved once unlocked. */
export function requestUnlock() {
  return lockHandler ? lockHandler() : Promise.resolve();
}
