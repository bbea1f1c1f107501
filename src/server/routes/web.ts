import express, { type RequestHandler, Router } from "express";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The web chat's files: plain HTML, CSS and ES modules, served as they are (no build, no CDN). */
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

const require = createRequire(import.meta.url);
/** highlight.js's prebuilt browser files (its `highlight.js` package holds CommonJS only). */
const HIGHLIGHT_ROOT = join(dirname(require.resolve("@highlightjs/cdn-assets/package.json")), "es");

/**
 * The page's libraries, from node_modules: the ES module build of each, under the name the page
 * imports it by in /web/vendor/. Only these files: the packages hold much else (sources, CommonJS
 * builds, tools) that the page has no use for.
 */
const VENDOR_FILES = new Map([
  // marked's and DOMPurify's package.json export their entry points only: found from those.
  ["/marked.js", join(dirname(require.resolve("marked")), "marked.esm.js")],
  ["/purify.js", join(dirname(require.resolve("dompurify")), "purify.es.mjs")],
  ["/highlight/core.js", join(HIGHLIGHT_ROOT, "core.min.js")],
]);
/** The grammars highlight.js has, each one small module that the page loads when a code block needs it. */
const HIGHLIGHT_LANGUAGES = new Set(readdirSync(join(HIGHLIGHT_ROOT, "languages")).flatMap((file) => /^([a-z0-9-]+)\.min\.js$/.exec(file)?.[1] ?? []));

/** Serves the chat page at `/` and its assets under `/web/`, with its libraries under `/web/vendor/`. */
export function webRouter(): Router {
  const router = Router();
  // `no-cache` revalidates with the ETag, so a new version of the page is picked up at once.
  const assets = express.static(WEB_ROOT, { index: false, fallthrough: false, cacheControl: true, maxAge: 0, setHeaders: (response) => response.setHeader("cache-control", "no-cache") });
  const vendor: RequestHandler = (request, response, next) => {
    const language = /^\/highlight\/languages\/([a-z0-9-]+)\.js$/.exec(request.path)?.[1];
    const file = VENDOR_FILES.get(request.path) ?? (language && HIGHLIGHT_LANGUAGES.has(language) ? join(HIGHLIGHT_ROOT, "languages", `${language}.min.js`) : undefined);
    // Another name falls through to the page's own files, which have no vendor/ folder: a JSON 404.
    if (!file) return next();
    // A module script must come as JavaScript (helmet sends nosniff); `.mjs` is not known to every MIME table.
    response.sendFile(file, { headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-cache" } });
  };
  router.get("/", (_request, response) => {
    response.setHeader("cache-control", "no-cache");
    response.sendFile("index.html", { root: WEB_ROOT });
  });
  // Only reads: any other method falls through to the JSON 404.
  const reads =
    (handler: RequestHandler): RequestHandler =>
    (request, response, next) =>
      request.method === "GET" || request.method === "HEAD" ? handler(request, response, next) : next();
  router.use("/web/vendor", reads(vendor));
  router.use("/web", reads(assets));
  return router;
}
