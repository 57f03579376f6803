import { createRequire } from 'node:module';
import type sanitizeHtmlType from 'sanitize-html';

/**
 * sanitize-html (with its HTML and CSS parsers) is required on first use, from node_modules (the
 * build leaves it out of the bundle): loading it before the port opens cost a tenth of a start.
 * The server loads it just after it starts listening (warmHtmlTools), so no request waits for it.
 */
const requireFromHere = createRequire(import.meta.url);
let sanitizer: typeof sanitizeHtmlType | undefined;
function sanitizeHtml(html: string, options: sanitizeHtmlType.IOptions): string {
  sanitizer ??= requireFromHere('sanitize-html') as typeof sanitizeHtmlType;
  return sanitizer(html, options);
}

/** Loads the HTML sanitiser now (see above). */
export function warmHtmlTools(): void {
  sanitizeHtml('', {});
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/**
 * Plain text as Zendesk renders it: blank lines separate paragraphs, single line breaks become
 * <br>, everything escaped: `<div class="zd-comment"><p>The smoke is very colorful.</p></div>`.
 */
export function plainTextToHtml(text: string): string {
  const paragraphs = text
    .replace(/\r\n?/g, '\n')
    .split(/\n{2,}/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`);
  return `<div class="zd-comment">${paragraphs.join('')}</div>`;
}

const SANITIZE_OPTIONS: sanitizeHtmlType.IOptions = {
  allowedTags: [
    'a', 'b', 'blockquote', 'br', 'code', 'div', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'li',
    'ol', 'p', 'pre', 's', 'span', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'u', 'ul',
  ],
  allowedAttributes: {
    a: ['href', 'title', 'rel', 'target'],
    img: ['src', 'alt', 'title', 'width', 'height'],
    div: ['class'],
    span: ['class'],
    td: ['colspan', 'rowspan'],
    th: ['colspan', 'rowspan'],
  },
  allowedSchemes: ['http', 'https', 'mailto'],
  allowedSchemesByTag: { img: ['http', 'https', 'cid'] },
  allowProtocolRelative: false,
  disallowedTagsMode: 'discard',
};

/** Client-supplied HTML, reduced to markup that cannot run code: no scripts, handlers or javascript: links. */
export function sanitizeClientHtml(html: string): string {
  return sanitizeHtml(html, SANITIZE_OPTIONS);
}

/** HTML to plain text, for previews of messages that came only as HTML. */
export function htmlToText(html: string): string {
  const withBreaks = html.replace(/<\s*(br|\/p|\/div|\/li|\/h\d)\s*\/?>/gi, '\n');
  const text = sanitizeHtml(withBreaks, { allowedTags: [], allowedAttributes: {} });
  return text.replace(/&nbsp;/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

export const PREVIEW_LENGTH = 140;

/** One line of plain text, at most PREVIEW_LENGTH characters, cut on a word where possible. */
export function previewText(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= PREVIEW_LENGTH) return flat;
  // Cut on a code point boundary, so an emoji is never split in half (half of one is not storable text).
  let cut = '';
  for (const ch of flat) {
    if (cut.length + ch.length > PREVIEW_LENGTH - 1) break;
    cut += ch;
  }
  const lastSpace = cut.lastIndexOf(' ');
  return `${(lastSpace > PREVIEW_LENGTH / 2 ? cut.slice(0, lastSpace) : cut).trimEnd()}…`;
}
