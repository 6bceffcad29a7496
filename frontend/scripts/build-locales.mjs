// Turns the gettext catalogues frontend/locale/<lang>.po into
// src/generated/<lang>.json ({msgid: msgstr}), imported by src/i18n.js.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { po } from "gettext-parser";

const root = fileURLToPath(new URL("..", import.meta.url));
mkdirSync(`${root}/src/generated`, { recursive: true });
for (const lang of ["fr", "en"]) {
  const catalogue = po.parse(readFileSync(`${root}/locale/${lang}.po`));
  const out = {};
  for (const [msgid, entry] of Object.entries(catalogue.translations[""] ?? {})) {
    if (msgid && entry.msgstr[0]) out[msgid] = entry.msgstr[0];
  }
  writeFileSync(`${root}/src/generated/${lang}.json`, JSON.stringify(out, null, 0) + "\n");
  console.log(`locale ${lang}: ${Object.keys(out).length} messages`);
}
