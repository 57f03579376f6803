/**
 * JSON from unauthenticated senders (Slack events, Teams activities) is parsed only after its
 * signature is checked, and then within a size and a nesting cap: the depth is counted in one
 * linear pass before JSON.parse ever sees the text, so a 900 KB `[[[[…` costs a scan, not a stall.
 */
export class JsonTooComplex extends Error {}

export function nestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i += 1; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth += 1;
      if (depth > deepest) deepest = depth;
    } else if (c === 0x7d || c === 0x5d) depth -= 1;
  }
  return deepest;
}

/** JSON.parse within caps; throws JsonTooComplex when over them, SyntaxError when not JSON. */
export function parseBoundedJson(text: string, limits: { maxBytes: number; maxDepth: number }): unknown {
  if (Buffer.byteLength(text) > limits.maxBytes) throw new JsonTooComplex(`larger than ${limits.maxBytes} bytes`);
  if (nestingDepth(text) > limits.maxDepth) throw new JsonTooComplex(`nested deeper than ${limits.maxDepth} levels`);
  return JSON.parse(text) as unknown;
}
