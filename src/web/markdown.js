// @ts-check
/**
 * Markdown for what the model writes: its replies, and the passages they cite. marked parses it,
 * highlight.js colours the code blocks, DOMPurify sanitises the HTML, and each code block gets a
 * copy button. The model's output is untrusted: raw HTML in it is shown as text (but `<br>`),
 * links keep only web and mail addresses and open in a new tab, and images become links, so a
 * reply can load nothing by itself. The libraries come from our own server (/web/vendor/).
 *
 * A streamed reply is rendered block by block (a paragraph, a list, a code block, a table): the
 * blocks already finished are rendered once and kept, and only the last ones, which may still
 * change, are parsed and rendered again as text arrives, at most once per frame.
 */
import hljs from "./vendor/highlight/core.js";
import { Lexer, Marked } from "./vendor/marked.js";
import DOMPurify from "./vendor/purify.js";
import { icon } from "./icons.js";

/**
 * @typedef {import("./vendor/marked.js").Token} Token
 * @typedef {import("./vendor/marked.js").TokensList["links"]} Links
 */

/**
 * The grammars a code block may load (a module each under /web/vendor/highlight/languages/), with
 * the other names models write after ```. Any other name is shown, not highlighted.
 * @type {Record<string, string[]>}
 */
const LANGUAGES = {
  bash: ["sh", "shell", "zsh"],
  c: ["h"],
  cpp: ["cc", "cxx", "hpp", "hh", "c++", "h++"],
  csharp: ["cs", "c#"],
  css: [],
  diff: ["patch"],
  dockerfile: ["docker"],
  go: ["golang"],
  graphql: ["gql"],
  ini: ["toml"],
  java: [],
  javascript: ["js", "jsx", "mjs", "cjs"],
  json: ["jsonc", "json5"],
  kotlin: ["kt", "kts"],
  lua: [],
  makefile: ["make", "mk"],
  markdown: ["md"],
  php: [],
  powershell: ["ps1", "pwsh"],
  python: ["py", "python3"],
  r: [],
  ruby: ["rb"],
  rust: ["rs"],
  scss: [],
  shell: ["console", "shellsession"],
  sql: ["mysql", "postgresql", "postgres", "psql", "sqlite"],
  swift: [],
  typescript: ["ts", "tsx", "mts", "cts"],
  xml: ["html", "xhtml", "svg", "rss", "atom", "xsl", "plist"],
  yaml: ["yml"],
};
/** @type {Map<string, string>} a name or alias → its grammar */
const GRAMMARS = new Map(Object.keys(LANGUAGES).map((name) => [name, name]));
// After the names: to models, "shell" is commands (bash), not highlight.js's shell session.
for (const [name, aliases] of Object.entries(LANGUAGES)) for (const alias of aliases) GRAMMARS.set(alias, name);
/** @type {Set<string>} grammars asked for: each is fetched once, whether it arrives or not */
const requested = new Set();

/** Only `<br>` of the model's raw HTML is kept: tables have no other way to break a line in a cell. */
const LINE_BREAK = /^<br\s*\/?>$/i;

const markdown = new Marked({
  gfm: true,
  // Models mean a line break when they write one (addresses, verse, steps), as other chat apps show it.
  breaks: true,
  renderer: {
    code({ text, lang }) {
      // The info string's first word, if it looks like a language name: it becomes a class name.
      const label = /^[\w#+.-]{1,32}$/.exec((lang ?? "").trim().split(/\s/)[0] ?? "")?.[0] ?? "";
      const grammar = grammarFor(label);
      const body = grammar ? hljs.highlight(text, { language: grammar, ignoreIllegals: true }).value : escapeHtml(text);
      const classes = [grammar ? "hljs" : "", label ? `language-${label}` : ""].filter(Boolean).join(" ");
      return `<pre><code${classes ? ` class="${classes}"` : ""}>${body}</code></pre>`;
    },
    html({ text, block }) {
      if (!block && LINE_BREAK.test(text)) return "<br>";
      return block ? `<p class="raw-html">${escapeHtml(text.trimEnd())}</p>` : escapeHtml(text);
    },
    image({ href, title, text }) {
      // A link instead: an image would be fetched as soon as it is shown, telling its server what was said.
      return `<a class="image-link" href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ""}>${escapeHtml(text || href)}</a>`;
    },
  },
});

/** What the sanitiser lets through: the elements marked writes for Markdown, and no more. */
const SANITIZE = {
  ALLOWED_TAGS: ["a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "input", "li", "ol", "p", "pre", "span", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul"],
  ALLOWED_ATTR: ["align", "checked", "class", "disabled", "href", "start", "title", "type"],
  ALLOW_DATA_ATTR: false,
  // Web and mail addresses, and relative ones; no javascript:, data: or any other scheme.
  ALLOWED_URI_REGEXP: /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i,
};

/**
 * The grammar for a code block's language name, if it is loaded; a known one not loaded yet is
 * fetched, and the code blocks on the page waiting for it are highlighted when it arrives.
 * @param {string} label
 * @returns {string | null}
 */
function grammarFor(label) {
  const grammar = GRAMMARS.get(label.toLowerCase());
  if (!grammar) return null;
  if (hljs.getLanguage(grammar)) return grammar;
  if (!requested.has(grammar)) {
    requested.add(grammar);
    import(`./vendor/highlight/languages/${grammar}.js`).then(
      (/** @type {{ default: import("./vendor/highlight/core.js").LanguageFn }} */ module) => {
        hljs.registerLanguage(grammar, module.default);
        // Renders kept from before would stay grey.
        cache.clear();
        highlightWaiting();
      },
      // Offline or gone: the code stays as it is, readable, only not coloured.
      () => {},
    );
  }
  return null;
}

/** Highlights the code blocks on the page whose grammar has arrived since they were rendered. */
function highlightWaiting() {
  for (const code of document.querySelectorAll(".markdown pre > code:not(.hljs)")) {
    const grammar = grammarFor(/\blanguage-(\S+)/.exec(code.className)?.[1] ?? "");
    if (!grammar) continue;
    const highlighted = DOMPurify.sanitize(hljs.highlight(code.textContent ?? "", { language: grammar, ignoreIllegals: true }).value, { ...SANITIZE, RETURN_DOM_FRAGMENT: true });
    code.replaceChildren(highlighted);
    code.classList.add("hljs");
  }
}

/** @param {string} text */
const escapeHtml = (text) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);

/** @param {string} text */
const normalize = (text) => text.replace(/\r\n?/g, "\n");

/**
 * Splits Markdown into its top-level blocks, with the link definitions found before it (those of
 * a streamed reply's finished blocks).
 * @param {string} source
 * @param {Links} links
 */
function lex(source, links) {
  const lexer = new Lexer(markdown.defaults);
  Object.assign(lexer.tokens.links, links);
  return lexer.lex(source);
}

/**
 * One block as sanitised DOM, with its links opening in a new tab, its tables scrolling sideways
 * and its code blocks labelled with a copy button.
 * @param {Token} token
 */
function renderBlock(token) {
  const fragment = DOMPurify.sanitize(markdown.parser([token]), { ...SANITIZE, RETURN_DOM_FRAGMENT: true });
  for (const link of fragment.querySelectorAll("a[href]")) {
    link.setAttribute("target", "_blank");
    link.setAttribute("rel", "noopener noreferrer");
  }
  // Task list boxes show a state; nothing else of a form may come from the model.
  for (const input of fragment.querySelectorAll("input")) {
    if (input.type === "checkbox") input.disabled = true;
    else input.remove();
  }
  for (const table of fragment.querySelectorAll("table")) {
    const scroller = document.createElement("div");
    scroller.className = "table-scroll";
    table.replaceWith(scroller);
    scroller.append(table);
  }
  for (const pre of fragment.querySelectorAll("pre")) {
    const block = document.createElement("div");
    block.className = "code-block";
    const head = document.createElement("div");
    head.className = "code-head";
    const language = document.createElement("span");
    language.className = "code-language";
    language.textContent = /\blanguage-(\S+)/.exec(pre.querySelector("code")?.className ?? "")?.[1] ?? "";
    head.append(language, copyButton("", "Copy code", "copy-code"));
    pre.replaceWith(block);
    block.append(head, pre);
  }
  // marked ends blocks with a new line: as text between blocks it would only get in the way.
  for (const node of [...fragment.childNodes]) if (node.nodeType === Node.TEXT_NODE && node.textContent?.trim() === "") node.remove();
  return fragment;
}

/**
 * Gives the code blocks' copy buttons their action: rendered blocks are cloned from the cache,
 * and a clone has no listeners.
 * @param {DocumentFragment} fragment
 */
function wire(fragment) {
  for (const button of fragment.querySelectorAll(".copy-code")) {
    const code = () => button.closest(".code-block")?.querySelector("code")?.textContent ?? "";
    button.addEventListener("click", () => void copy(/** @type {HTMLButtonElement} */ (button), code(), "Copy code"));
  }
  return fragment;
}

/** @type {Map<string, DocumentFragment>} rendered Markdown by its text, least recently used first */
const cache = new Map();
/** Renders kept: a chat's messages are drawn again after each reply and on each switch of branch. */
const CACHE_SIZE = 300;

/**
 * Markdown as sanitised DOM, to append to an element of class `markdown`.
 * @param {string} text
 * @returns {DocumentFragment}
 */
export function renderMarkdown(text) {
  const source = normalize(text);
  let rendered = cache.get(source);
  if (rendered) cache.delete(source);
  else {
    rendered = document.createDocumentFragment();
    for (const token of lex(source, {})) rendered.append(renderBlock(token));
  }
  cache.set(source, rendered);
  if (cache.size > CACHE_SIZE) cache.delete(/** @type {string} */ (cache.keys().next().value));
  return wire(/** @type {DocumentFragment} */ (rendered.cloneNode(true)));
}

/**
 * The work the streaming renderer has done, for the browser tests: the characters it parsed, and
 * the most in one render (a reply parsed whole per token would have parsed all of it).
 */
export const streamStats = { lexedChars: 0, largestLex: 0 };

/**
 * Blocks kept open, rendered again as text arrives: the last one may still grow, and the one
 * before it may still be joined by it (a paragraph's `---` underline, a table's second line).
 */
const OPEN_BLOCKS = 2;

/**
 * Whether a finished-looking list may still take the block after it: a paragraph of digits only
 * after a blank line is the start of its next item ("2" of "2. ").
 * @param {Token} block
 * @param {Token | undefined} next the next block that is not a blank line
 */
const mayContinue = (block, next) => block.type === "list" && next?.type === "paragraph" && /^ {0,3}\d{1,9}$/.test(next.raw);

/**
 * Renders a reply into `container` as it streams in: `update` with the text so far, each time it
 * grows. Finished blocks stay the same DOM nodes to the end; a text that does not continue the
 * last one (another message) starts over.
 * @param {HTMLElement} container an element of class `markdown`
 * @param {() => void} [onRender] called after each render, e.g. to keep the end in view
 */
export function streamMarkdown(container, onRender) {
  /** The text rendered as finished blocks, never rendered again. */
  let finished = "";
  /** @type {Links} the link definitions among the finished blocks */
  let links = {};
  /** @type {Array<{ raw: string, nodes: ChildNode[] }>} the open blocks after them, in order */
  let open = [];
  let latest = "";
  let frame = 0;

  function render() {
    if (frame !== 0) cancelAnimationFrame(frame);
    frame = 0;
    const source = normalize(latest);
    if (!source.startsWith(finished)) {
      finished = "";
      links = {};
      open = [];
      container.replaceChildren();
    }
    const tail = source.slice(finished.length);
    streamStats.lexedChars += tail.length;
    streamStats.largestLex = Math.max(streamStats.largestLex, tail.length);
    const tokens = lex(tail, links);
    for (const [index, token] of tokens.entries()) {
      const block = open[index];
      if (block?.raw === token.raw) continue;
      const fragment = wire(renderBlock(token));
      const nodes = [...fragment.childNodes];
      // In place of the old version, or before the next block that has nodes (a blank line has none).
      const next = open.slice(index).flatMap((other) => other.nodes)[0];
      if (next) next.before(fragment);
      else container.append(fragment);
      for (const node of block?.nodes ?? []) node.remove();
      open[index] = { raw: token.raw, nodes };
    }
    for (const block of open.splice(tokens.length)) for (const node of block.nodes) node.remove();
    // Close the blocks that later text can no longer change.
    while (open.length > OPEN_BLOCKS) {
      const [first] = tokens;
      if (!first || mayContinue(first, tokens.slice(1).find((token) => token.type !== "space"))) break;
      // The blocks' texts add up to the source; should they not, the blocks stay open (slower, still right).
      if (!source.startsWith(first.raw, finished.length)) break;
      finished += first.raw;
      if (first.type === "def") links[first.tag] ??= { href: first.href, title: first.title };
      tokens.shift();
      open.shift();
    }
    onRender?.();
  }

  return {
    /** @param {string} text the reply so far */
    update(text) {
      latest = text;
      // Tokens come faster than frames: parse and draw once per frame, with the latest text.
      frame ||= requestAnimationFrame(render);
    },
    /** Renders the latest text now. */
    flush: render,
  };
}

const COPY_ICON = "M5 1h8a2 2 0 0 1 2 2v8h-2V3H5V1zM1 6a2 2 0 0 1 2-2h6a2 2 0 0 1 2 2v7a2 2 0 0 1-2 2H3a2 2 0 0 1-2-2V6zm2 0v7h6V6H3z";
const DONE_ICON = "M6 11.2 2.8 8 1.4 9.4 6 14l9-9-1.4-1.4z";


/**
 * A button that copies `text` to the clipboard and says so for a moment: an icon, with `label`
 * as its name (no text of its own, so that a message's text is only what was written).
 * @param {string} text
 * @param {string} label e.g. "Copy reply"
 * @param {string} [className] an extra class
 */
export function copyButton(text, label, className = "") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = `button icon copy ${className}`.trim();
  button.setAttribute("aria-label", label);
  button.title = label;
  button.append(icon(COPY_ICON, { evenOdd: true }));
  if (text !== "") button.addEventListener("click", () => void copy(button, text, label));
  return button;
}

/** @type {WeakMap<HTMLButtonElement, number>} */
const resets = new WeakMap();

/**
 * @param {HTMLButtonElement} button
 * @param {string} text
 * @param {string} label the button's name, back after the message
 */
async function copy(button, text, label) {
  let message = "Copied";
  try {
    await writeClipboard(text);
  } catch {
    message = "Could not copy";
  }
  button.setAttribute("aria-label", message);
  button.title = message;
  button.classList.add("copied");
  button.replaceChildren(icon(message === "Copied" ? DONE_ICON : COPY_ICON, { evenOdd: true }));
  clearTimeout(resets.get(button));
  resets.set(
    button,
    window.setTimeout(() => {
      button.setAttribute("aria-label", label);
      button.title = label;
      button.classList.remove("copied");
      button.replaceChildren(icon(COPY_ICON, { evenOdd: true }));
    }, 1500),
  );
}

/**
 * The clipboard API needs a secure context (HTTPS or localhost); a server reached over plain HTTP
 * on the network gets the older way, a selected text area and the copy command.
 * @param {string} text
 */
async function writeClipboard(text) {
  if (window.isSecureContext && navigator.clipboard) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Refused (no permission, page not focused): the older way may still work.
    }
  }
  const focused = document.activeElement;
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "copy-buffer";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (focused instanceof HTMLElement) focused.focus();
  if (!copied) throw new Error("The browser refused to copy");
}
