// Router, distribution stage: the interface every distribution (ketama, modula, random) implements.

export interface DistServer {
  name: string;
  weight: number;
  /** Position in the pool's sorted server list; what dispatch() returns. */
  index: number;
}

export interface Distribution {
  /** Rebuild over the live servers, given in sorted order. Not on the data path; may allocate. */
  build(live: readonly DistServer[]): void;
  /** Server index for a hash value; -1 when there is no live server. */
  dispatch(hash: number): number;
}

export type DistName = 'ketama' | 'modula' | 'random';
