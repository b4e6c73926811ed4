/**
 * An insertion-ordered list of the calls in flight, whose links live in the calls themselves.
 *
 * Why not a `Set` (hand-written on purpose): a tool call's bookkeeping is added when the call goes
 * out and deleted when it answers, thousands of times a second on one connection. V8's `Set`
 * leaves a deleted entry as a hole and, every few add/delete pairs on a small set, rebuilds its
 * table in the runtime (a new backing store, allocated): about 2 µs a call for each of the three
 * sets a call used to pass through, measured on a 2-core VM where an `echo` call over stdio takes
 * 80 µs (`npm run bench`, toolCallOverhead; the target allows 4 µs in all). Linking costs two
 * field writes and allocates nothing. Iteration is oldest first, as a `Set`'s is.
 */

/**
 * What an item of a {@link CallList} carries: its links, set and read by the list only. An item
 * made on a hot path should start with all three as `undefined` (one object shape from the
 * start); elsewhere they may be left out.
 */
export interface CallListItem<T> {
  /** The list the item is in, if any. */
  callList?: object | undefined;
  callPrevious?: T | undefined;
  callNext?: T | undefined;
}

/** The calls of one owner, oldest first (see the module comment). */
export class CallList<T extends CallListItem<T>> {
  #first: T | undefined;
  #last: T | undefined;
  #size = 0;

  /** Items in the list. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends `item`.
   *
   * @throws Error when `item` is already in a list (this one or another).
   */
  add(item: T): void {
    if (item.callList) throw new Error('the call is already in a list');
    item.callList = this;
    item.callPrevious = this.#last;
    item.callNext = undefined;
    if (this.#last) this.#last.callNext = item;
    else this.#first = item;
    this.#last = item;
    this.#size++;
  }

  /**
   * Takes `item` out.
   *
   * @returns false when it was not in this list (safe to call twice).
   */
  delete(item: T): boolean {
    if (item.callList !== this) return false;
    const { callPrevious: previous, callNext: next } = item;
    if (previous) previous.callNext = next;
    else this.#first = next;
    if (next) next.callPrevious = previous;
    else this.#last = previous;
    item.callList = undefined;
    item.callPrevious = undefined;
    item.callNext = undefined;
    this.#size--;
    return true;
  }

  /** Empties the list. */
  clear(): void {
    for (const item of this.toArray()) this.delete(item);
  }

  /** The items now, oldest first: a copy, so the list may change while it is walked. */
  toArray(): T[] {
    const items: T[] = [];
    for (let item = this.#first; item; item = item.callNext) items.push(item);
    return items;
  }

  /** The oldest item that `predicate` accepts, if any. */
  find(predicate: (item: T) => boolean): T | undefined {
    for (let item = this.#first; item; item = item.callNext) {
      if (predicate(item)) return item;
    }
    return undefined;
  }
}
