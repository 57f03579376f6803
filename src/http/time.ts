/** Zendesk core resources (tickets, users, groups) use second precision: 2009-07-20T22:55:29Z. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Side conversations, as in the reference: 2018-11-20T16:58:36.453+00:00. */
export function isoMillisOffset(date: Date): string {
  return date.toISOString().replace(/Z$/, '+00:00');
}

/** Side conversation events, as in the reference: 2017-10-27T17:56:16.678Z. */
export function isoMillis(date: Date): string {
  return date.toISOString();
}
