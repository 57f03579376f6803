import { Type, type Static } from '@sinclair/typebox';
import { badRequest } from './errors.js';

export const OffsetPageQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, description: 'Page number, from 1' })),
  per_page: Type.Optional(Type.Integer({ minimum: 1, description: 'Items per page, at most 100 (default 100)' })),
});
export type OffsetPageQuery = Static<typeof OffsetPageQuery>;

export const MAX_PER_PAGE = 100;
/** Zendesk refuses offset pagination past 10,000 records. */
export const MAX_OFFSET_RECORDS = 10_000;

export interface OffsetPage {
  page: number;
  perPage: number;
  offset: number;
}

export function offsetPage(query: OffsetPageQuery): OffsetPage {
  const page = query.page ?? 1;
  const perPage = Math.min(query.per_page ?? MAX_PER_PAGE, MAX_PER_PAGE);
  const offset = (page - 1) * perPage;
  if (offset >= MAX_OFFSET_RECORDS) {
    throw badRequest(
      'InvalidPaginationDepth',
      `Offset pagination is limited to the first ${MAX_OFFSET_RECORDS} records; narrow the request`,
    );
  }
  return { page, perPage, offset };
}

/** `next_page` / `previous_page` as absolute URLs on the caller's own path, or null. */
export function pageLinks(
  base: string,
  path: string,
  page: OffsetPage,
  count: number,
  extraQuery: Record<string, string | string[]> = {},
): { next_page: string | null; previous_page: string | null } {
  const link = (n: number) => {
    const params = new URLSearchParams();
    // A list (Zendesk's `role[]`) repeats its key, once per value.
    for (const [key, value] of Object.entries(extraQuery)) for (const one of Array.isArray(value) ? value : [value]) params.append(key, one);
    params.set('page', String(n));
    params.set('per_page', String(page.perPage));
    return `${base}${path}?${params.toString()}`;
  };
  return {
    next_page: page.offset + page.perPage < count ? link(page.page + 1) : null,
    previous_page: page.page > 1 ? link(page.page - 1) : null,
  };
}

export const PageLinks = {
  next_page: Type.Union([Type.String(), Type.Null()]),
  previous_page: Type.Union([Type.String(), Type.Null()]),
  count: Type.Integer(),
};
