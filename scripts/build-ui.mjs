// `make ui`: build the page and the Argo CD extension from ui/src, reproducibly (no dependencies, no clock,
// no absolute paths in the output). The modules share one scope inside an IIFE, so graph.js is the one
// rendering code in both bundles; `export` is dropped, nothing is imported (React comes from Argo CD).
//   node scripts/build-ui.mjs [--out DIR]   (default: write into controller/ui and manifests/ui)
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = (name) => readFileSync(join(root, "ui", "src", name), "utf8");
const strip = (text) => text.replace(/^export (function|const|let|class) /gm, "$1 ");

function bundle(title, entries) {
  const body = entries.map((name) => `// ---- ui/src/${name}\n${strip(src(name))}`).join("\n");
  return `// ${title} — built by \`make ui\` from ui/src (do not edit). SPDX-License-Identifier: Apache-2.0\n` +
    `(function () {\n"use strict";\n${body}\n})();\n`;
}

const outIndex = process.argv.indexOf("--out");
const out = outIndex > 0 ? process.argv[outIndex + 1] : null;
const page = bundle("Freightyard standalone page", ["graph.js", "client.js", "page.js"]);
const extension = bundle("Freightyard Argo CD UI extension", ["graph.js", "client.js", "extension.js"]);
const targets = out
  ? { [join(out, "freightyard-ui.js")]: page, [join(out, "extension-freightyard.js")]: extension, [join(out, "index.html")]: src("index.html") }
  : {
      [join(root, "controller/ui/freightyard-ui.js")]: page,
      [join(root, "controller/ui/extension-freightyard.js")]: extension,
      [join(root, "controller/ui/index.html")]: src("index.html"),
      [join(root, "manifests/ui/extension-freightyard.js")]: extension,
    };
for (const [path, text] of Object.entries(targets)) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
