// Router, distribution stage: the distributions by their `distribution:` directive names.

import { Ketama } from './ketama';
import { Modula } from './modula';
import { RandomDist } from './random';
import type { DistName, Distribution } from './types';

export type { DistName, DistServer, Distribution } from './types';
export { Ketama, ketamaHash, ketamaPointCounts } from './ketama';
export { Modula } from './modula';
export { RandomDist } from './random';

export const DIST_NAMES: readonly DistName[] = ['ketama', 'modula', 'random'];

export function createDistribution(name: DistName): Distribution {
  switch (name) {
    case 'ketama':
      return new Ketama();
    case 'modula':
      return new Modula();
    case 'random':
      return new RandomDist();
  }
}
