// Preview in the page: images as images, plain text as text (its first
// 256 KiB), both decrypted and streamed by the server, kept by no cache
// (Cache-Control: no-store). A PDF opens in a new tab with
// `?inline=true`, which the server grants to safe types only.
import { useEffect, useRef, useState } from "preact/hooks";
import { html } from "../html.js";
import { apiHeaders } from "../api.js";
import { t } from "../i18n.js";
import { kindOf, Problem } from "../widgets.js";

const TEXT_LIMIT = 256 * 1024;

export function previewKind(node) {
  if (node.kind !== "file") return null;
  const kind = kindOf(node);
  const ext = node.name.split(".").pop().toLowerCase();
  if (kind === "pdf") return "pdf";
  if (["png", "jpg", "jpeg", "gif", "webp"].includes(ext)) return "image";
  if (["txt", "md", "csv", "log"].includes(ext)) return "text";
  return null;
}

export function PreviewDialog({ node, url, onClose }) {
  const kind = previewKind(node);
  const [text, setText] = useState(null);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState(null);
  const closeButton = useRef(null);

  useEffect(() => {
    closeButton.current?.focus();
    const onKey = (e) => {
      if (e.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (kind !== "text") return;
    const controller = new AbortController();
    fetch(url, {
      headers: { ...apiHeaders("GET"), Range: `bytes=0-${TEXT_LIMIT - 1}` },
      credentials: "same-origin",
      signal: controller.signal,
    })
      .then(async (response) => {
        if (!response.ok && response.status !== 206) throw new Error(t("The preview could not be loaded. Download the file instead."));
        const buffer = await response.arrayBuffer();
        setTruncated(node.size > buffer.byteLength);
        setText(new TextDecoder("utf-8").decode(buffer));
      })
      .catch((err) => {
        if (err?.name !== "AbortError") setError(err);
      });
    return () => controller.abort();
  }, [url]);

  return html`
    <div class="overlay" onClick=${(e) => e.target === e.currentTarget && onClose()}>
      <section class="card preview" role="dialog" aria-modal="true" aria-labelledby="preview-title">
        <div class="titlebar">
          <h2 id="preview-title">${node.name}</h2>
          <button type="button" class="secondary" ref=${closeButton} onClick=${onClose}>${t("Close")}</button>
        </div>
        <${Problem} error=${error} />
        ${kind === "image" && html`<img class="preview-image" src=${url} alt=${t("Preview of {name}", { name: node.name })} />`}
        ${kind === "text" && text === null && !error && html`<p role="status">${t("Loading…")}</p>`}
        ${kind === "text" && text !== null && html`<pre class="preview-text" tabindex="0">${text}</pre>`}
        ${truncated && html`<p class="muted">${t("Only the beginning is shown. Download the file to read it all.")}</p>`}
      </section>
    </div>
  `;
}
