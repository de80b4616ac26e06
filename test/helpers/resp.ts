// RESP request encoding for tests that write to a redis pool over raw sockets.

/** One request (an array of bulk strings) as RESP text. */
export function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}
