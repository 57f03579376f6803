import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from './errors.js';

/** Zendesk's cursor pagination: ?page[size]=M&page[after]=CURSOR (or page[before]). */
export const CursorPageQuery = {
  'page[size]': Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Items per page, at most 100 (default 100)' })),
  'page[after]': Type.Optional(Type.String({ maxLength: 200, description: 'The after_cursor of the previous page' })),
  'page[before]': Type.Optional(Type.String({ maxLength: 200, description: 'The before_cursor of the next page' })),
};
const CursorPageQueryObject = Type.Object(CursorPageQuery);
export type CursorPageQuery = Static<typeof CursorPageQueryObject>;

export const CursorPageMeta = {
  meta: Type.Object({
    has_more: Type.Boolean(),
    after_cursor: Type.Union([Type.String(), Type.Null()]),
    before_cursor: Type.Union([Type.String(), Type.Null()]),
  }),
  links: Type.Object({ next: Type.Union([Type.String(), Type.Null()]), prev: Type.Union([Type.String(), Type.Null()]) }),
};

/** Where a page starts: after a key (forward), before one (backward), or at the start. */
export interface CursorPage {
  size: number;
  after: string | null;
  before: string | null;
}

/** Cursors are the sort key of an item, opaque to clients (base64url). */
export function cursorFor(key: string | number): string {
  return Buffer.from(String(key), 'utf8').toString('base64url');
}

function keyOf(cursor: string, pattern: RegExp): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!pattern.test(key)) throw badRequest('InvalidPaginationParameter', 'page[after] and page[before] take a cursor from meta or links');
  return key;
}

/** The page asked for; `keyPattern` is what a valid sort key looks like (a bad cursor is a 400). */
export function cursorPage(query: CursorPageQuery, keyPattern: RegExp): CursorPage {
  if (query['page[after]'] !== undefined && query['page[before]'] !== undefined) {
    throw badRequest('InvalidPaginationParameter', 'Give page[after] or page[before], not both');
  }
  return {
    size: query['page[size]'] ?? 100,
    after: query['page[after]'] === undefined ? null : keyOf(query['page[after]'], keyPattern),
    before: query['page[before]'] === undefined ? null : keyOf(query['page[before]'], keyPattern),
  };
}

/**
 * `meta` and `links` of a page. `fetched` is what the repo read in the page's direction: up to
 * size + 1 rows, the extra one saying there are more. Rows come back in presentation order.
 */
export function cursorResult<Row>(
  page: CursorPage,
  fetched: Row[],
  keyOfRow: (row: Row) => string | number,
  link: (param: 'page[after]' | 'page[before]', cursor: string) => string,
): { rows: Row[]; meta: { has_more: boolean; after_cursor: string | null; before_cursor: string | null }; links: { next: string | null; prev: string | null } } {
  const hasMore = fetched.length > page.size;
  const backward = page.before !== null;
  let rows = fetched.slice(0, page.size);
  if (backward) rows = rows.reverse();
  const first = rows[0];
  const last = rows[rows.length - 1];
  const after = last === undefined ? null : cursorFor(keyOfRow(last));
  const before = first === undefined ? null : cursorFor(keyOfRow(first));
  const moreAfter = backward ? true : hasMore;
  const moreBefore = backward ? hasMore : page.after !== null;
  return {
    rows,
    meta: { has_more: hasMore, after_cursor: after, before_cursor: before },
    links: {
      next: moreAfter && after !== null ? link('page[after]', after) : null,
      prev: moreBefore && before !== null ? link('page[before]', before) : null,
    },
  };
}

/** An absolute link on the caller's path with its query, one cursor parameter replaced. */
export function cursorLink(base: string, path: string, query: Record<string, unknown>, size: number) {
  return (param: 'page[after]' | 'page[before]', cursor: string): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || k === 'page[after]' || k === 'page[before]' || k === 'page[size]') continue;
      params.set(k, String(v));
    }
    params.set('page[size]', String(size));
    params.set(param, cursor);
    return `${base}${path}?${params.toString()}`;
  };
}
