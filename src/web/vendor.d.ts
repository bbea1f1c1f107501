/**
 * Types of the libraries the server serves under /web/vendor/ from node_modules (see
 * src/server/routes/web.ts): the page imports them by those URLs, which are no files here.
 */

declare module "*/vendor/marked.js" {
  export * from "marked";
}

declare module "*/vendor/purify.js" {
  export { default } from "dompurify";
  export * from "dompurify";
}

/** highlight.js's core (@highlightjs/cdn-assets/es/core.min.js): the part of its API the page uses. */
declare module "*/vendor/highlight/core.js" {
  /** A grammar, the default export of a module under /web/vendor/highlight/languages/. */
  export type LanguageFn = (hljs: unknown) => object;
  const hljs: {
    registerLanguage(name: string, language: LanguageFn): void;
    getLanguage(name: string): object | undefined;
    /** Escapes the code and wraps its tokens in `<span class="hljs-…">`. */
    highlight(code: string, options: { language: string; ignoreIllegals?: boolean }): { value: string };
  };
  export default hljs;
}
