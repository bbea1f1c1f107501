// @ts-check
/**
 * How the page fits its window. On a narrow screen (a phone, or a tablet beside the chat list)
 * the chat's secondary actions (its assistant, its documents, Memory) go behind a menu button,
 * so the title keeps the header's width; the message box gets a placeholder that fits; the tab
 * is named after the open chat.
 */

/** The width up to which the header's actions are in a menu; the same as chat.css's. */
export const MENU_SCREEN = "(max-width: 1024px)";

/**
 * The header's menu button: it shows and hides `panel` on a narrow screen (on a wide one the
 * panel is part of the header and the button is hidden). The menu closes on Escape, on a click
 * elsewhere, and once one of its actions is used.
 * @param {{ button: HTMLButtonElement, panel: HTMLElement, narrow?: MediaQueryList }} options
 */
export function createHeaderMenu({ button, panel, narrow = matchMedia(MENU_SCREEN) }) {
  const isOpen = () => panel.classList.contains("open");

  /** @param {boolean} open @param {{ focus?: boolean }} [options] */
  function setOpen(open, { focus = false } = {}) {
    panel.classList.toggle("open", open);
    button.setAttribute("aria-expanded", String(open));
    if (open) /** @type {HTMLElement | null} */ (panel.querySelector("select, button"))?.focus();
    else if (focus) button.focus();
  }

  button.addEventListener("click", () => setOpen(!isOpen()));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isOpen() && narrow.matches) {
      event.preventDefault();
      setOpen(false, { focus: true });
    }
  });
  // A used action closes the menu: a button opens its dialog, a picker has made its choice.
  panel.addEventListener("click", (event) => {
    if (isOpen() && event.target instanceof Element && event.target.closest("button")) setOpen(false);
  });
  panel.addEventListener("change", () => {
    if (isOpen()) setOpen(false, { focus: true });
  });
  document.addEventListener("pointerdown", (event) => {
    if (isOpen() && event.target instanceof Node && !panel.contains(event.target) && !button.contains(event.target)) setOpen(false);
  });
  // Back to a wide window: the actions are in the header again, no menu is left open.
  narrow.addEventListener("change", () => setOpen(false));
  return { close: () => setOpen(false) };
}

/**
 * Gives `textarea` its `data-narrow-placeholder` when its own placeholder does not fit on one
 * line: "Enter to send, Shift+Enter for a new line" is cut off on a phone, which has no Shift key
 * anyway.
 * @param {HTMLTextAreaElement} textarea
 */
export function fitPlaceholder(textarea) {
  const long = textarea.placeholder;
  const short = textarea.dataset.narrowPlaceholder ?? long;
  const measure = document.createElement("canvas").getContext("2d");
  const fit = () => {
    if (!measure) return;
    const style = getComputedStyle(textarea);
    measure.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const room = textarea.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    textarea.placeholder = measure.measureText(long).width <= room ? long : short;
  };
  new ResizeObserver(fit).observe(textarea);
}

/**
 * Names the browser's tab (and its history entries, which Back lists) after `heading`, the open
 * chat's title, whatever part of the page changes it.
 * @param {HTMLElement} heading
 * @param {string} site
 */
export function mirrorTitle(heading, site) {
  const mirror = () => {
    const title = heading.textContent?.trim() ?? "";
    document.title = title === "" ? site : `${title} · ${site}`;
  };
  new MutationObserver(mirror).observe(heading, { childList: true, characterData: true, subtree: true });
  mirror();
}
