// Small shared pieces.
import { html } from "./html.js";
import { t } from "./i18n.js";
import { linkClick } from "./router.js";

/** The message of a failed call, read by screen readers as it appears. */
export function Problem({ error }) {
  if (!error) return null;
  return html`<p class="problem" role="alert">${error.message}</p>`;
}

// Short type labels drawn in the icon (no emoji: not every system has the font).
const LABELS = { pdf: "PDF", image: "IMG", text: "TXT", sheet: "TAB", archive: "ZIP", audio: "SON", video: "VID", file: "" };

const BY_EXTENSION = {
  pdf: "pdf",
  png: "image", jpg: "image", jpeg: "image", gif: "image", webp: "image", svg: "image", tif: "image", tiff: "image", dcm: "image",
  txt: "text", md: "text", csv: "sheet", xls: "sheet", xlsx: "sheet", ods: "sheet", doc: "text", docx: "text", odt: "text",
  zip: "archive", gz: "archive", "7z": "archive", tar: "archive",
  mp3: "audio", wav: "audio", ogg: "audio",
  mp4: "video", mov: "video", webm: "video",
};

export function kindOf(node) {
  if (node.kind === "folder") return "folder";
  const ext = node.name.includes(".") ? node.name.split(".").pop().toLowerCase() : "";
  return BY_EXTENSION[ext] ?? "file";
}

export function Icon({ node }) {
  const kind = kindOf(node);
  if (kind === "folder") {
    return html`<svg class="icon icon-folder" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
      <path d="M2 6.5A1.5 1.5 0 0 1 3.5 5h5l2 2h10A1.5 1.5 0 0 1 22 8.5v10a1.5 1.5 0 0 1-1.5 1.5h-17A1.5 1.5 0 0 1 2 18.5z" />
    </svg>`;
  }
  return html`<svg class=${`icon icon-${kind}`} viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
    <path class="sheet" d="M5 2h9l5 5v15H5z" />
    <path class="fold" d="M14 2v5h5" />
    ${LABELS[kind] && html`<text x="12" y="18" text-anchor="middle">${LABELS[kind]}</text>`}
  </svg>`;
}

/** A plain icon by name, drawn in SVG. */
export function Glyph({ name }) {
  const paths = {
    trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
    lock: "M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3",
    space: "M3 5h18v5H3zM3 14h18v5H3zM7 7.5h.01M7 16.5h.01",
  };
  return html`<svg class="glyph" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false">
    <path d=${paths[name]} />
  </svg>`;
}

/** The breadcrumbs of a page of a space: My spaces › the space › `current`. */
export function SpaceCrumbs({ space, current }) {
  return html`<nav aria-label=${t("Breadcrumbs")} class="crumbs">
    <a href="/" onClick=${linkClick}>${t("My spaces")}</a>
    <span aria-hidden="true">›</span>
    <a href=${`/spaces/${encodeURIComponent(space)}/`} onClick=${linkClick}>${space}</a>
    <span aria-hidden="true">›</span>
    <span aria-current="page">${current}</span>
  </nav>`;
}
