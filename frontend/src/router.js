// A tiny history-API router: the server answers index.html on every app
// route, the page decides what to show from location.pathname.
import { useEffect, useState } from "preact/hooks";

const listeners = new Set();

export function navigate(to, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", to);
  else history.pushState(null, "", to);
  for (const fn of listeners) fn();
  window.scrollTo(0, 0);
}

window.addEventListener("popstate", () => {
  for (const fn of listeners) fn();
});

/** The current location (path + search), re-rendering on every change. */
export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const fn = () => setLoc(location.pathname + location.search);
    listeners.add(fn);
    return () => listeners.delete(fn);
  }, []);
  return loc;
}

/** Click handler for in-app links: plain clicks stay in the page. */
export function linkClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const a = event.currentTarget;
  if (a.target || a.hasAttribute("download")) return;
  event.preventDefault();
  navigate(a.getAttribute("href"));
}

/** "/spaces/x/a%20b" -> ["spaces", "x", "a b"] */
export function segments(pathname) {
  return pathname
    .split("/")
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
}

export function encodePath(parts) {
  return parts.map((p) => encodeURIComponent(p)).join("/");
}
