// The recipient's page of a share link or a file request, /links/{token}
// (docs/sharing.md, ADR 21 and 25). No account: every call is to
// /api/v1/links/{token}/..., never /me, and a refusal never leads to the
// log-in page. The token travels only to the API's own paths.
import { useEffect, useRef, useState } from "preact/hooks";
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import fr_FR from "@uppy/locales/lib/fr_FR.js";
import en_US from "@uppy/locales/lib/en_US.js";
import { html } from "../html.js";
import { api, apiHeaders } from "../api.js";
import { runner } from "../actions.js";
import { formatBytes, formatDate, language, onLanguageChange, t } from "../i18n.js";
import { encodePath } from "../router.js";
import { Problem } from "../widgets.js";

const UPPY_LOCALES = { fr: fr_FR, en: en_US };

function linkApi(token, method, suffix = "", json) {
  return api(method, `/links/${encodeURIComponent(token)}${suffix}`, { json, anonymous: true });
}

export function LinkPage({ token }) {
  const [view, setView] = useState(null);
  const [error, setError] = useState(null);
  const [gone, setGone] = useState(false);

  const load = async () => {
    setError(null);
    try {
      setView(await linkApi(token, "GET"));
    } catch (err) {
      if (err.status === 404) setGone(true);
      else setError(err);
    }
  };
  useEffect(() => {
    document.title = t("Égide — shared with you");
    load();
  }, [token]);

  if (gone) return html`<${Gone} />`;
  if (!view) {
    return html`<section class="page link-page">
      ${error ? html`<${Problem} error=${error} />` : html`<p class="loading" role="status">${t("Loading…")}</p>`}
    </section>`;
  }
  const onGone = () => setGone(true);
  let body;
  if (view.needs[0] === "password") {
    body = html`<${PasswordStep} token=${token} onDone=${load} onGone=${onGone} />`;
  } else if (view.needs[0] === "verification") {
    body = html`<${VerifyStep} token=${token} onDone=${load} onGone=${onGone} />`;
  } else if (view.kind === "request") {
    body = html`<${RequestView} token=${token} view=${view} onGone=${onGone} />`;
  } else {
    body = html`<${FilesView} token=${token} view=${view} />`;
  }
  return html`<section class="page link-page">${body}</section>`;
}

/** `run(fn)` for a step of the link: a 404 means the link is gone, not an error to show. */
function linkRunner({ setError, setBusy, onGone }) {
  return runner({ setError, setBusy, onError: (err) => (err.status === 404 ? onGone() : setError(err)) });
}

function Gone() {
  return html`<section class="page link-page">
    <h1>${t("This link cannot be opened")}</h1>
    <p>${t("This link does not exist, has expired or was withdrawn. Ask the person who sent it for a new one.")}</p>
  </section>`;
}

function PasswordStep({ token, onDone, onGone }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = linkRunner({ setError, setBusy, onGone });
  const submit = (event) => {
    event.preventDefault();
    run(async () => {
      await linkApi(token, "POST", "/password", { password });
      onDone();
    });
  };
  return html`
    <h1>${t("This link is protected")}</h1>
    <form class="card" onSubmit=${submit}>
      <label for="link-password">${t("Password of the link")}</label>
      <input id="link-password" type="password" autocomplete="off" required
        value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
      <${Problem} error=${error} />
      <button type="submit" disabled=${busy}>${t("Continue")}</button>
    </form>
  `;
}

function VerifyStep({ token, onDone, onGone }) {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = linkRunner({ setError, setBusy, onGone });
  const ask = (event) => {
    event.preventDefault();
    run(async () => {
      const answer = await linkApi(token, "POST", "/verify", { email });
      setSent(answer?.detail ?? "");
    });
  };
  const confirm = (event) => {
    event.preventDefault();
    run(async () => {
      await linkApi(token, "POST", "/verify/confirm", { email, code });
      onDone();
    });
  };
  return html`
    <h1>${t("Prove your e-mail address")}</h1>
    <p>${t("The sender bound this link to e-mail addresses. Give yours: a 6-digit code will be sent to it.")}</p>
    <form class="card" onSubmit=${ask}>
      <label for="link-email">${t("Your e-mail address")}</label>
      <input id="link-email" type="email" autocomplete="email" required
        value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <button type="submit" class=${sent === null ? "" : "secondary"} disabled=${busy}>
        ${sent === null ? t("Send me a code") : t("Send a new code")}
      </button>
    </form>
    ${sent !== null &&
    html`<p role="status">${sent}</p>
      <form class="card" onSubmit=${confirm}>
        <label for="link-code">${t("Code received by e-mail (6 digits)")}</label>
        <input id="link-code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}"
          maxlength="6" required value=${code} onInput=${(e) => setCode(e.currentTarget.value.trim())} />
        <button type="submit" disabled=${busy}>${t("Open the link")}</button>
      </form>`}
    <${Problem} error=${error} />
  `;
}

function Summary({ view }) {
  return html`<p class="link-meta">
    ${view.sender && html`<span>${t("Sent by {name}", { name: view.sender })}</span> `}
    <span>${t("Available until {date}", { date: formatDate(view.expires_at) })}</span>
    ${view.verified_email && html` <span>${t("Opened as {email}", { email: view.verified_email })}</span>`}
  </p>`;
}

function FilesView({ token, view }) {
  const base = `/api/v1/links/${encodeURIComponent(token)}`;
  return html`
    <h1>${view.name}</h1>
    <${Summary} view=${view} />
    ${view.downloads_left !== null &&
    html`<p>${t("Downloads left: {n}", { n: view.downloads_left })}</p>`}
    ${view.files.length === 0
      ? html`<p>${t("This folder is empty.")}</p>`
      : html`<table class="listing link-files">
          <thead><tr><th scope="col">${t("Name")}</th><th scope="col">${t("Size")}</th><th scope="col"><span class="visually-hidden">${t("Actions")}</span></th></tr></thead>
          <tbody>
            ${view.files.map(
              (file) => html`<tr key=${file.path}>
                <td>${file.path}</td>
                <td>${formatBytes(file.size)}</td>
                <td><a class="button" href=${`${base}/content/${encodePath(file.path.split("/"))}`} download=${file.name}
                  aria-label=${t("Download {name}", { name: file.path })}>${t("Download")}</a></td>
              </tr>`,
            )}
          </tbody>
        </table>`}
    ${view.kind === "folder" && view.files.length > 0 &&
    html`<p><a class="button" href=${`${base}/zip`} download>${t("Download all (zip)")}</a></p>`}
  `;
}

function RequestView({ token, view, onGone }) {
  const [sent, setSent] = useState([]);
  const [refused, setRefused] = useState([]);
  const target = useRef(null);
  useEffect(() => {
    const uppy = mountRequestUploader(target.current, {
      token,
      view,
      onSent: (file) => setSent((list) => [...list, file]),
      onRefused: (file) => setRefused((list) => [...list.filter((f) => f.id !== file.id), file]),
      onGone,
    });
    const off = onLanguageChange((lang) => uppy.setOptions({ locale: UPPY_LOCALES[lang] }));
    return () => {
      off();
      uppy.destroy();
    };
  }, [token]);
  return html`
    <h1>${t("Send files")}</h1>
    <${Summary} view=${view} />
    <p>${t("The files you send go to the sender's vault, encrypted. You cannot see what is already there, nor what others sent.")}</p>
    <p class="link-limits">
      ${view.max_file_bytes !== null && html`<span>${t("Largest file: {size}", { size: formatBytes(view.max_file_bytes) })}</span> `}
      ${view.bytes_left !== null && html`<span>${t("Still accepted in all: {size}", { size: formatBytes(view.bytes_left) })}</span> `}
      ${view.files_left !== null && html`<span>${t("Files still accepted: {n}", { n: view.files_left })}</span>`}
    </p>
    <div class="uploader" ref=${target}></div>
    ${refused.length > 0 &&
    html`<div class="refused" role="alert">
      <h2>${t("Not sent")}</h2>
      <ul>${refused.map((file) => html`<li key=${file.id}><strong>${file.name}</strong> — ${file.message}</li>`)}</ul>
    </div>`}
    <h2>${t("Sent during this visit")}</h2>
    ${sent.length === 0
      ? html`<p>${t("Nothing yet.")}</p>`
      : html`<ul class="link-sent" aria-live="polite">
          ${sent.map((file, i) => html`<li key=${i}>${file.name} — ${formatBytes(file.size)}</li>`)}
        </ul>`}
  `;
}

/** Send one file with a raw PUT, reporting progress; resolves with the server's answer. */
function put(token, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/api/v1/links/${encodeURIComponent(token)}/files/${encodeURIComponent(file.name)}`);
    for (const [name, value] of Object.entries(apiHeaders("PUT"))) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const error = new Error(body?.detail || body?.title || t("The server refused this file."));
        error.status = xhr.status;
        reject(error);
      }
    };
    xhr.onerror = () => reject(new Error(t("The server cannot be reached. Check the connection and try again.")));
    xhr.send(file.data);
  });
}

function mountRequestUploader(target, { token, view, onSent, onRefused, onGone }) {
  const uppy = new Uppy({
    autoProceed: true,
    locale: UPPY_LOCALES[language()],
    restrictions: {
      maxFileSize: view.max_file_bytes ?? null,
      maxTotalFileSize: view.bytes_left ?? null,
      maxNumberOfFiles: view.files_left ?? null,
    },
  });
  uppy.use(Dashboard, {
    inline: true,
    target,
    width: "100%",
    height: 300,
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
    note: t("Each file is sent on its own: a refused file does not stop the others."),
  });
  uppy.addUploader(async (fileIDs) => {
    const files = fileIDs.map((id) => uppy.getFile(id));
    uppy.emit("upload-start", files);
    // One at a time: the request's totals are checked file by file.
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      if (!file) continue;
      try {
        const answer = await put(token, file, (loaded, total) =>
          uppy.emit("upload-progress", uppy.getFile(id), {
            uploader: "egide-link",
            bytesUploaded: loaded,
            bytesTotal: total,
          }),
        );
        uppy.emit("upload-success", uppy.getFile(id), { status: 201, body: answer, uploadURL: undefined });
        onSent(answer ?? { name: file.name, size: file.size });
      } catch (err) {
        if (err.status === 404) {
          onGone();
          return;
        }
        uppy.emit("upload-error", uppy.getFile(id), err);
        onRefused({ id, name: file.name, message: err.message });
      }
    }
  });
  return uppy;
}
