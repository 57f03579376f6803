/** One page of rows and the total they were cut from, fetched side by side. */
export async function pageOf<Row>(rows: Promise<Row[]>, total: Promise<{ count: number | string | bigint }>): Promise<{ rows: Row[]; count: number }> {
  const [page, counted] = await Promise.all([rows, total]);
  return { rows: page, count: Number(counted.count) };
}

/** Rows grouped by a key, keeping their order: children of several parents from one query. */
export function groupBy<Row, Key>(rows: Row[], key: (row: Row) => Key, keys: Key[] = []): Map<Key, Row[]> {
  const grouped = new Map<Key, Row[]>(keys.map((k) => [k, []]));
  for (const row of rows) {
    const k = key(row);
    const list = grouped.get(k);
    if (list) list.push(row);
    else grouped.set(k, [row]);
  }
  return grouped;
}
