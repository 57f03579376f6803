import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RenderedRows } from '../../src/db/rendered-rows.js';

describe('RenderedRows', () => {
  it('gives a rendering back only for the version it was rendered from', () => {
    const rows = new RenderedRows();
    rows.set('a', '100:101', '{"a":1}');
    assert.equal(rows.get('a', '100:101'), '{"a":1}');
    assert.equal(rows.get('a', '102:101'), undefined);
    assert.equal(rows.get('b', '100:101'), undefined);
    rows.set('a', '102:101', '{"a":2}');
    assert.equal(rows.get('a', '102:101'), '{"a":2}');
    assert.equal(rows.get('a', '100:101'), undefined);
  });

  it('keeps at most its number of entries, dropping the one set longest ago', () => {
    const rows = new RenderedRows(2);
    rows.set('a', '1', 'A');
    rows.set('b', '1', 'B');
    rows.set('a', '2', 'A2'); // set again: now the newest
    rows.set('c', '1', 'C');
    assert.equal(rows.get('b', '1'), undefined);
    assert.equal(rows.get('a', '2'), 'A2');
    assert.equal(rows.get('c', '1'), 'C');
  });
});
