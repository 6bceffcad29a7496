// Languages: French first, English second. Messages come from the gettext
// catalogues (frontend/locale/*.po, msgids in English) turned into JSON at
// build time. The language follows the browser unless the user picked one
// with the FR/EN switch (kept in localStorage).
import fr from "./generated/fr.json";
import en from "./generated/en.json";

const CATALOGUES = { fr, en };
export const LANGUAGES = ["fr", "en"];
const STORAGE_KEY = "egide.lang";
const listeners = new Set();

function browserLanguage() {
  for (const tag of navigator.languages ?? [navigator.language ?? "fr"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "fr";
}

function initialLanguage() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGUAGES.includes(saved)) return saved;
  } catch {
    // storage disabled: follow the browser
  }
  return browserLanguage();
}

let current = initialLanguage();
document.documentElement.lang = current;

export function language() {
  return current;
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang) || lang === current) return;
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered, still switched
  }
  for (const fn of listeners) fn(lang);
}

export function onLanguageChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The message `msgid` in the current language, `{name}` replaced from `params`. */
export function t(msgid, params) {
  const text = CATALOGUES[current][msgid] || CATALOGUES.en[msgid] || msgid;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, key) => (key in params ? String(params[key]) : m));
}

const UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"];

/** A size in the user's locale: "1,5 Mo" / "1.5 MB". */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(current, {
    style: "unit",
    unit: UNITS[unit],
    unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1,
  }).format(value);
}

/** A date and time in the user's locale. */
export function formatDate(iso) {
  if (!iso) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(iso),
  );
}
