/**
 * PDFs written by hand for tests (no PDF library needed): pages of text in Helvetica, their
 * content streams compressed with FlateDecode (`node:zlib`) the way real PDFs are, so a page of
 * one line repeated is a small file that inflates to a great deal of text.
 */
import { deflateSync } from "node:zlib";

/** Lines on a page: pdf.js leaves out text drawn off the page, so longer texts start over at the top. */
const LINES_PER_PAGE = 50;

/** `line` escaped as a PDF string and shown at the `index`th line's place. */
const showLine = (line: string, index: number) =>
  `1 0 0 1 72 ${720 - (index % LINES_PER_PAGE) * 14} Tm (${line.replace(/[\\()]/g, (character) => `\\${character}`)}) Tj\n`;

/** A page's content stream showing `lines`, one under the other. */
export function textPage(lines: readonly string[]): Buffer {
  return Buffer.from(`BT /F1 12 Tf\n${lines.map(showLine).join("")}ET`, "latin1");
}

/**
 * A page's content stream showing `line` `times` times (in blocks of one page's lines drawn over
 * each other): a few kilobytes deflated, however many megabytes of text it inflates to.
 */
export function repeatedLinePage(line: string, times: number): Buffer {
  const block = Array.from({ length: LINES_PER_PAGE }, (_, index) => showLine(line, index)).join("");
  const blocks = Math.floor(times / LINES_PER_PAGE);
  const rest = Array.from({ length: times % LINES_PER_PAGE }, (_, index) => showLine(line, index)).join("");
  return Buffer.from(`BT /F1 12 Tf\n${block.repeat(blocks)}${rest}ET`, "latin1");
}

/**
 * A Type 3 font (its glyphs drawn by the PDF itself) for lowercase letters and the space: unlike a
 * standard font such as Helvetica, pdf.js loads nothing from disk to use it, so it starts reading
 * a page's text at once.
 */
const TYPE3_FONT = (glyphObject: number) => {
  const names = ["space", ..."abcdefghijklmnopqrstuvwxyz"];
  return (
    `<< /Type /Font /Subtype /Type3 /FontBBox [0 0 500 750] /FontMatrix [0.001 0 0 0.001 0 0] /Resources << >>` +
    ` /CharProcs << ${names.map((name) => `/${name} ${glyphObject} 0 R`).join(" ")} >>` +
    ` /Encoding << /Type /Encoding /Differences [32 /space 97 ${names.slice(1).map((name) => `/${name}`).join(" ")}] >>` +
    ` /FirstChar 32 /LastChar 122 /Widths [${Array.from({ length: 91 }, () => 500).join(" ")}] >>`
  );
};
const TYPE3_GLYPH = "500 0 0 0 500 750 d1 0 0 500 750 re f";

/**
 * A PDF of `pages` (content streams), each compressed with FlateDecode unless `compress` is false,
 * in Helvetica or, with `font: "type3"`, a Type 3 font of lowercase letters and spaces.
 */
export function makePdf(pages: readonly Buffer[], options: { compress?: boolean; font?: "helvetica" | "type3" } = {}): Buffer {
  const compress = options.compress ?? true;
  const pageCount = pages.length;
  // Objects: 1 catalog, 2 page tree, 3 font, then for each page its page object and its content,
  // then a Type 3 font's one glyph.
  const glyphObject = 4 + pageCount * 2;
  const objects: Buffer[] = [
    Buffer.from("<< /Type /Catalog /Pages 2 0 R >>"),
    Buffer.from(`<< /Type /Pages /Kids [${pages.map((_, index) => `${4 + index * 2} 0 R`).join(" ")}] /Count ${pageCount} >>`),
    Buffer.from(options.font === "type3" ? TYPE3_FONT(glyphObject) : "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"),
  ];
  for (const [index, content] of pages.entries()) {
    objects.push(Buffer.from(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${5 + index * 2} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`));
    const data = compress ? deflateSync(content) : content;
    objects.push(Buffer.concat([Buffer.from(`<< /Length ${data.length}${compress ? " /Filter /FlateDecode" : ""} >>\nstream\n`), data, Buffer.from("\nendstream")]));
  }
  if (options.font === "type3") objects.push(Buffer.from(`<< /Length ${TYPE3_GLYPH.length} >>\nstream\n${TYPE3_GLYPH}\nendstream`));
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n")];
  let length = parts[0]!.length;
  const offsets: number[] = [];
  for (const [index, object] of objects.entries()) {
    offsets.push(length);
    const part = Buffer.concat([Buffer.from(`${index + 1} 0 obj\n`), object, Buffer.from("\nendobj\n")]);
    parts.push(part);
    length += part.length;
  }
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((offset) => `${String(offset).padStart(10, "0")} 00000 n \n`).join("")}`;
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`));
  return Buffer.concat(parts);
}
