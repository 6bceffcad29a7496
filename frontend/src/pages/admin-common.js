// Pieces the admin area and the share dialog share: a secret shown once with
// a copy button, sizes typed as a number and a unit, dates as "in N days".
import { useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { t } from "../i18n.js";

/**
 * A secret (a one-time password, a link's address) shown once: read-only
 * field, selected on focus, and a copy button. The server keeps no copy.
 */
export function ShownOnce({ label, value, hint, id }) {
  const field = useRef(null);
  const [copied, setCopied] = useState(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // No clipboard API (a plain-HTTP address): select the text for Ctrl+C.
      field.current?.select();
      setCopied(false);
    }
  };
  return html`<div class="card shown-once" role="status">
    <label for=${id}>${label}</label>
    <div class="inline">
      <input id=${id} class="grow secret" readonly value=${value} ref=${field}
        onFocus=${(e) => e.currentTarget.select()} />
      <button type="button" onClick=${copy}>${t("Copy")}</button>
    </div>
    ${copied === true && html`<p class="muted">${t("Copied.")}</p>`}
    ${copied === false && html`<p class="muted">${t("Press Ctrl+C to copy the selected text.")}</p>`}
    <p class="muted">${hint ?? t("It is shown only this once: the server keeps no copy.")}</p>
  </div>`;
}

// Decimal units, as formatBytes shows them ("12 Go" / "12 GB").
export const SIZE_UNITS = [
  { value: 1e6, label: () => t("MB") },
  { value: 1e9, label: () => t("GB") },
  { value: 1e12, label: () => t("TB") },
];

/** Bytes from a number field and a unit field; null when the number is empty (no limit). */
export function sizeFrom(amount, unit) {
  const text = String(amount ?? "").trim().replace(",", ".");
  if (!text) return null;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) return Number.NaN;
  return Math.round(value * Number(unit));
}

/** A size in bytes split back into a number and the largest unit that keeps it whole-ish. */
export function sizeParts(bytes) {
  if (bytes === null || bytes === undefined) return { amount: "", unit: 1e9 };
  const unit = [...SIZE_UNITS].reverse().find((u) => bytes >= u.value)?.value ?? 1e6;
  return { amount: String(Math.round((bytes / unit) * 100) / 100), unit };
}

/** "YYYY-MM-DD" of a date in local time (for <input type="date">). */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function daysFromNow(days) {
  return new Date(Date.now() + days * 86400000);
}
