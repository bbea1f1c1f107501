/**
 * `/docs`: the interactive API reference. Swagger UI renders /openapi.json in the browser, from
 * swagger-ui-dist's files served by this server (nothing from a CDN: it works offline), started
 * by a script file of ours (helmet's Content-Security-Policy allows no inline script).
 */
import express, { type RequestHandler, Router } from "express";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
/** Where swagger-ui-dist's files are. */
const SWAGGER_UI_ROOT = dirname(require.resolve("swagger-ui-dist/package.json"));
/** The script that starts Swagger UI on the page, served as `/docs/assets/init.js`. */
const INIT_SCRIPT = fileURLToPath(new URL("./docs-init.js", import.meta.url));
/**
 * The only swagger-ui-dist files served: the package also holds a demo page and an initializer
 * that load the Petstore example from the internet.
 */
const ASSETS = new Set(["swagger-ui.css", "swagger-ui-bundle.js", "favicon-16x16.png", "favicon-32x32.png"]);

/** The page: Swagger UI's stylesheet and bundle, then our init script; all same-origin. */
export const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stateful-agent API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="/docs/assets/favicon-16x16.png" sizes="16x16">
</head>
<body>
<noscript>This reference needs JavaScript. The API's description is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
`;

/** Serves `/docs`, and its files (Swagger UI's and our init script) under `/docs/assets/`. */
export function docsRouter(): Router {
  const router = Router();
  // `no-cache` revalidates with the ETag: an upgraded swagger-ui-dist is picked up at once.
  const noCache = { cacheControl: false, setHeaders: (response: express.Response) => response.setHeader("cache-control", "no-cache") };
  const swaggerUi = express.static(SWAGGER_UI_ROOT, { index: false, fallthrough: false, ...noCache });
  // Files, like the web chat's: reads only; anything else falls through to the JSON 404.
  const assets: RequestHandler = (request, response, next) => {
    if (request.method !== "GET" && request.method !== "HEAD") return next();
    if (request.path === "/init.js") return response.sendFile(INIT_SCRIPT, { headers: { "cache-control": "no-cache" } });
    return ASSETS.has(request.path.slice(1)) ? swaggerUi(request, response, next) : next();
  };

  router.get("/docs", (_request, response) => {
    response.setHeader("cache-control", "no-cache");
    response.type("html").send(DOCS_PAGE);
  });
  router.use("/docs/assets", assets);
  return router;
}
