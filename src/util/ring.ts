// FIFO ring buffer used for every ordered queue on the data path (client reply order,
// server in-flight order). Array.shift is O(n); this is O(1) and allocation-free once grown.
//
//   head -> [ a ][ b ][ c ][   ][   ] <- tail      push at tail, shift at head, grows x2
//                                                  (pop at tail: a server connection giving back unsent requests)

export class Ring<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private mask: number;

  constructor(capacityPow2 = 16) {
    let cap = 1;
    while (cap < capacityPow2) cap <<= 1;
    this.items = new Array<T | undefined>(cap);
    this.mask = cap - 1;
  }

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & this.mask] = item;
    this.count++;
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** The i-th item from the head (0 = head), or undefined. */
  at(i: number): T | undefined {
    return i < this.count ? this.items[(this.head + i) & this.mask] : undefined;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return item;
  }

  /** Take the item at the tail (the last pushed), or undefined. */
  pop(): T | undefined {
    if (this.count === 0) return undefined;
    const i = (this.head + this.count - 1) & this.mask;
    const item = this.items[i];
    this.items[i] = undefined;
    this.count--;
    return item;
  }

  private grow(): void {
    const old = this.items;
    const cap = old.length * 2;
    const next = new Array<T | undefined>(cap);
    for (let i = 0; i < this.count; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = cap - 1;
  }
}
