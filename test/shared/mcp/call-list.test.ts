/**
 * The intrusive list of calls in flight (`shared/mcp/call-list.ts`): order, removal from any
 * place, and the guards that keep an item in one list at a time.
 */
import { describe, expect, it } from 'vitest';
import { CallList, type CallListItem } from '../../../shared/mcp/call-list.js';

interface Item extends CallListItem<Item> {
  id: number;
}

const item = (id: number): Item => ({ id });
const ids = (list: CallList<Item>) => list.toArray().map((entry) => entry.id);

describe('CallList', () => {
  it('keeps items oldest first and takes them out from the front, middle or back', () => {
    const list = new CallList<Item>();
    const items = [1, 2, 3, 4, 5].map(item);
    for (const entry of items) list.add(entry);
    expect(ids(list)).toEqual([1, 2, 3, 4, 5]);
    expect(list.size).toBe(5);

    expect(list.delete(items[2]!)).toBe(true);
    expect(ids(list)).toEqual([1, 2, 4, 5]);
    expect(list.delete(items[0]!)).toBe(true);
    expect(list.delete(items[4]!)).toBe(true);
    expect(ids(list)).toEqual([2, 4]);
    expect(list.size).toBe(2);

    list.add(items[0]!);
    expect(ids(list)).toEqual([2, 4, 1]);
  });

  it('answers false for an item it does not hold, and refuses an item already in a list', () => {
    const list = new CallList<Item>();
    const other = new CallList<Item>();
    const entry = item(1);
    expect(list.delete(entry)).toBe(false);
    list.add(entry);
    expect(() => list.add(entry)).toThrow('already in a list');
    expect(() => other.add(entry)).toThrow('already in a list');
    expect(other.delete(entry)).toBe(false);
    expect(list.delete(entry)).toBe(true);
    expect(list.delete(entry)).toBe(false);
    expect(list.size).toBe(0);
    other.add(entry);
    expect(ids(other)).toEqual([1]);
  });

  it('finds the oldest match, and may be changed while a copy of it is walked', () => {
    const list = new CallList<Item>();
    for (const id of [1, 2, 3, 4]) list.add(item(id));
    expect(list.find((entry) => entry.id % 2 === 0)?.id).toBe(2);
    expect(list.find((entry) => entry.id > 9)).toBeUndefined();

    for (const entry of list.toArray()) {
      if (entry.id !== 3) list.delete(entry);
    }
    expect(ids(list)).toEqual([3]);
    list.clear();
    expect(list.size).toBe(0);
    expect(list.toArray()).toEqual([]);
  });
});
