import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import { hasControlCharacters } from '../http/email.js';

/**
 * A file name as a client sent it, made safe to store and to put in a header: no directories
 * (`../../etc/passwd` → `passwd`), no control or reserved characters, at most 255 characters.
 */
export function sanitizeFileName(raw: string | undefined): string {
  const base = (raw ?? '').split(/[\\/]/).pop() ?? '';
  const cleaned = [...base]
    .filter((ch) => !hasControlCharacters(ch) && !'<>:"|?*'.includes(ch))
    .join('')
    .replace(/^[.\s]+|[.\s]+$/g, '')
    .slice(0, 255);
  return cleaned || 'attachment';
}

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp', 'image/tiff']);

export interface SniffedFile {
  contentType: string;
  width: number | null;
  height: number | null;
}

function looksLikeText(bytes: Buffer): boolean {
  const sample = bytes.subarray(0, 8192);
  if (sample.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(sample.length === bytes.length ? sample : sample.subarray(0, sample.length - 4));
    return true;
  } catch {
    return false;
  }
}

/** The content type from the bytes themselves, never from what the client claimed; sizes for images. */
export async function sniffFile(bytes: Buffer): Promise<SniffedFile> {
  const detected = await fileTypeFromBuffer(bytes);
  const contentType = detected?.mime ?? (bytes.length > 0 && looksLikeText(bytes) ? 'text/plain' : 'application/octet-stream');
  if (!IMAGE_TYPES.has(contentType)) return { contentType, width: null, height: null };
  try {
    const size = imageSize(bytes);
    return { contentType, width: size.width ?? null, height: size.height ?? null };
  } catch {
    return { contentType, width: null, height: null };
  }
}

/** Types a browser may show in place; everything else is always downloaded. */
export const INLINE_SAFE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/**
 * `attachment; filename="…"; filename*=UTF-8''…` with an ASCII fallback and the exact name encoded.
 * `inline` only for what the API itself calls inline (the attachment's `inline` field), and then
 * only for types a browser may show safely: the header and the JSON never disagree.
 */
export function contentDisposition(fileName: string, contentType: string, inline: boolean): string {
  const disposition = inline && INLINE_SAFE_TYPES.has(contentType) ? 'inline' : 'attachment';
  const ascii = fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
