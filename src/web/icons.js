/**
 * The page's icons, drawn as SVG paths on a 16×16 grid: emoji fonts are not on every machine,
 * no icon font is downloaded, and a button whose face is an icon holds no text of its own
 * (selecting or copying a message takes only what was written).
 */

/** A trash bin: delete. */
export const TRASH_ICON = "M6 1h4l1 1h3v2H2V2h3l1-1zM3 5h10l-1 10H4L3 5zm3 2v6h1V7H6zm3 0v6h1V7H9z";
/** A circular arrow: regenerate. */
export const REGENERATE_ICON = "M8 2a6 6 0 1 0 5.7 7.9h-1.6A4.5 4.5 0 1 1 8 3.5c1.2 0 2.3.5 3.1 1.3L9 7h5V2l-1.8 1.8A6 6 0 0 0 8 2z";

/**
 * An icon of one path, 14 px, in the text's colour.
 * @param {string} path the path's `d`
 * @param {{ evenOdd?: boolean }} [options] `evenOdd`: holes where the path crosses itself (outlined shapes)
 */
export function icon(path, { evenOdd = false } = {}) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  const shape = document.createElementNS("http://www.w3.org/2000/svg", "path");
  shape.setAttribute("d", path);
  shape.setAttribute("fill", "currentColor");
  if (evenOdd) shape.setAttribute("fill-rule", "evenodd");
  svg.append(shape);
  return svg;
}
