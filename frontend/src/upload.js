// Uploads: Uppy's dashboard (drag and drop, a button for files and for whole
// folders, per-file and total progress, pause/resume, retry) sending through
// the server's tus endpoint /api/v1/uploads. A file the server refuses keeps
// the server's message; the others of the batch go on.
import Uppy from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import fr_FR from "@uppy/locales/lib/fr_FR.js";
import en_US from "@uppy/locales/lib/en_US.js";
import { api, apiHeaders, requestUnlock } from "./api.js";
import { language, t } from "./i18n.js";

const UPPY_LOCALES = { fr: fr_FR, en: en_US };

/** Uppy's texts in `lang`, with ours where Uppy's translation lacks the folder button. */
function uppyLocale(lang) {
  const base = UPPY_LOCALES[lang];
  const drop = t("Drop files or folders here, %{browseFiles} or %{browseFolders}");
  return {
    ...base,
    strings: {
      ...base.strings,
      dropPasteBoth: drop,
      dropPasteImportBoth: drop,
      browseFiles: t("choose files"),
      browseFolders: t("choose a folder"),
    },
  };
}
const MIB = 1024 * 1024;

function problemOf(error) {
  const response = error?.originalResponse;
  if (!response) return { status: 0, detail: null, code: "" };
  let detail = null;
  let code = "";
  try {
    const problem = JSON.parse(response.getBody());
    detail = problem.detail || problem.title || null;
    code = String(problem.type ?? "").replace("urn:egide:problem:", "");
  } catch {
    detail = null;
  }
  return { status: response.getStatus(), detail, code };
}

/** The folder (inside the space) a file goes to: the target folder plus its own sub-folders. */
function folderOf(base, file) {
  const relative = String(file.meta.relativePath ?? "").replace(/^\/+/, "");
  const parts = relative.split("/").filter(Boolean).slice(0, -1);
  return [...base, ...parts].join("/");
}

/**
 * Mount the uploader in `target`. `where()` gives {space, folder: [names]} at
 * the moment a file is added; `onUploaded()` runs after each stored file;
 * `onRefused(list)` receives [{id, name, message}] of the files refused.
 */
export function mountUploader(target, { where, onUploaded, onRefused }) {
  const refused = new Map();
  const report = () => onRefused([...refused.values()]);
  const uppy = new Uppy({
    autoProceed: true,
    locale: uppyLocale(language()),
    onBeforeFileAdded: (file) => {
      const { space, folder } = where();
      file.meta = { ...file.meta, space, folder: folderOf(folder, file) };
      return file;
    },
  });
  uppy.use(Dashboard, {
    inline: true,
    target,
    width: "100%",
    height: 300,
    fileManagerSelectionType: "both",
    showProgressDetails: true,
    proudlyDisplayPoweredByUppy: false,
    note: t("Files and whole folders go into the folder shown above."),
  });
  uppy.use(Tus, {
    endpoint: "/api/v1/uploads",
    chunkSize: 8 * MIB,
    limit: 3,
    retryDelays: [0, 1000, 3000, 5000, 10000],
    removeFingerprintOnSuccess: true,
    allowedMetaFields: ["space", "folder", "name", "type"],
    headers: () => apiHeaders("PATCH"),
    onShouldRetry: (err, attempt, options, next) => {
      const { status } = problemOf(err);
      if (status === 401) return false;
      if (status >= 400 && status < 500 && status !== 423 && status !== 409) return false;
      // A 409 at creation is a refusal (a folder has that name), not an offset to catch
      // up: its message shows at once instead of after every retry delay.
      if (status === 409 && err?.originalRequest?.getMethod?.() === "POST") return false;
      return next(err);
    },
  });
  // Create the sub-folders of a folder upload before its files.
  uppy.addPreProcessor(async (fileIDs) => {
    const made = new Set();
    for (const id of fileIDs) {
      const file = uppy.getFile(id);
      const { space, folder } = file.meta;
      const parts = folder.split("/").filter(Boolean);
      for (let i = 1; i <= parts.length; i += 1) {
        const path = parts.slice(0, i).join("/");
        const key = `${space}/${path}`;
        if (made.has(key)) continue;
        made.add(key);
        try {
          await api("GET", `/spaces/${encodeURIComponent(space)}/nodes/${parts.slice(0, i).map(encodeURIComponent).join("/")}`);
        } catch (err) {
          if (err.status !== 404) continue;
          try {
            await api("POST", `/spaces/${encodeURIComponent(space)}/folders/${parts.slice(0, i).map(encodeURIComponent).join("/")}`);
          } catch {
            // the file's own upload then says what is wrong
          }
        }
      }
    }
  });
  uppy.on("upload-error", async (file, error) => {
    const { status, detail, code } = problemOf(error);
    if (status === 401 && code === "session-locked") {
      await requestUnlock();
      uppy.retryUpload(file.id);
      return;
    }
    const message = detail ?? t("The upload stopped: {reason}", { reason: error?.message ?? "" });
    uppy.setFileState(file.id, { error: message });
    refused.set(file.id, { id: file.id, name: file.name, message });
    report();
  });
  uppy.on("upload-success", (file) => {
    if (refused.delete(file.id)) report();
    onUploaded(file);
  });
  // Once a batch is done, stored files leave the box (they are in the listing
  // now) so it offers to drop more; refused ones stay with their message.
  let clearing = null;
  uppy.on("complete", (result) => {
    clearTimeout(clearing);
    clearing = setTimeout(() => {
      for (const file of result.successful ?? []) {
        if (uppy.getFile(file.id)) uppy.removeFile(file.id);
      }
    }, 1500);
  });
  uppy.on("file-removed", (file) => {
    if (refused.delete(file.id)) report();
  });
  return {
    setLanguage(lang) {
      uppy.setOptions({ locale: uppyLocale(lang) });
    },
    destroy() {
      clearTimeout(clearing);
      uppy.destroy();
    },
  };
}
