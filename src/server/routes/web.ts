import express, { Router } from "express";
import { fileURLToPath } from "node:url";

/** The web chat's files: plain HTML, CSS and ES modules, served as they are (no build, no CDN). */
export const WEB_ROOT = fileURLToPath(new URL("../../web/", import.meta.url));

/** Serves the chat page at `/` and its assets under `/web/`. */
export function webRouter(): Router {
  const router = Router();
  // `no-cache` revalidates with the ETag, so a new version of the page is picked up at once.
  const assets = express.static(WEB_ROOT, { index: false, fallthrough: false, cacheControl: true, maxAge: 0, setHeaders: (response) => response.setHeader("cache-control", "no-cache") });
  router.get("/", (_request, response) => {
    response.setHeader("cache-control", "no-cache");
    response.sendFile("index.html", { root: WEB_ROOT });
  });
  // Only reads: any other method falls through to the JSON 404.
  router.use("/web", (request, response, next) => (request.method === "GET" || request.method === "HEAD" ? assets(request, response, next) : next()));
  return router;
}
