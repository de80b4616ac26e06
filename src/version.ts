// Version strings shown by -V, the stats port and INFO.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as { version: string };

export const VERSION: string = pkg.version;
/** The twemproxy version whose behaviour nutmeg matches (reported in the stats JSON "version"). */
export const NUTCRACKER_VERSION = '0.5.0';
