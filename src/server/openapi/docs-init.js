// Renders /openapi.json with Swagger UI on the /docs page. A file of its own, not an inline
// script: the page's Content-Security-Policy runs scripts from this origin only.
/* global SwaggerUIBundle */
"use strict";

// The key the web chat keeps (src/web/api.js), so that a browser signed in there can read the API here.
const KEY_STORAGE = "stateful-agent.api-key";

const storedKey = () => {
  try {
    return localStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
};

window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No validator badge: it would send the document to validator.swagger.io.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  requestInterceptor: (request) => {
    const key = storedKey();
    if (key && !request.headers["x-api-key"] && !request.headers.Authorization) request.headers["x-api-key"] = key;
    return request;
  },
  responseInterceptor: (response) => {
    // With API_KEYS set, the document itself needs a key: ask once, keep it as the web chat does.
    if (response.status === 401 && new URL(response.url, location.href).pathname === "/openapi.json") {
      const key = window.prompt("This server needs an API key to show its API");
      if (key && key.trim()) {
        localStorage.setItem(KEY_STORAGE, key.trim());
        location.reload();
      }
    }
    return response;
  },
});
