// Control plane only (Sentinel queries, ROLE checks): a reply the reply parser (reply.ts) has framed, turned into
// JS values. The data path never decodes a reply; it forwards the bytes.
//
//   bytes ─► RedisReplyParser.parse (framing, validation) ─► decodeReply(buf, start) ─► string | number | null | RespError | array

/** An error reply (`-ERR ...`), as a value: a query's answer, not an exception. */
export class RespError {
  readonly message: string;

  constructor(message: string) {
    this.message = message;
  }
}

export type RespValue = string | number | null | RespError | RespValue[];

/** Decode the whole reply that starts at buf[start]; the caller has framed it (RedisReplyParser returned OK). */
export function decodeReply(buf: Buffer, start: number): RespValue {
  const r = new Reader(buf, start);
  return r.value();
}

class Reader {
  private readonly buf: Buffer;
  private pos: number;

  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }

  value(): RespValue {
    const type = this.buf[this.pos++];
    const line = this.line();
    switch (type) {
      case 0x2b: // '+'
        return line;
      case 0x2d: // '-'
        return new RespError(line);
      case 0x3a: // ':'
        return Number(line);
      case 0x24: {
        // '$'
        const n = Number(line);
        if (n < 0) return null;
        const s = this.buf.toString('utf8', this.pos, this.pos + n);
        this.pos += n + 2;
        return s;
      }
      case 0x2a: {
        // '*'
        const n = Number(line);
        if (n < 0) return null;
        const out: RespValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value());
        return out;
      }
      default:
        // RESP3 types are never asked for (no HELLO 3 on control connections).
        return new RespError(`unexpected reply type '${String.fromCharCode(type ?? 0)}'`);
    }
  }

  private line(): string {
    const end = this.buf.indexOf(13, this.pos);
    const s = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 2;
    return s;
  }
}

/** A flat [field, value, field, value, ...] reply (SENTINEL MASTER, each entry of SENTINEL REPLICAS) as a Map. */
export function fieldMap(v: RespValue): Map<string, string> {
  const m = new Map<string, string>();
  if (!Array.isArray(v)) return m;
  for (let i = 0; i + 1 < v.length; i += 2) {
    const k = v[i];
    const x = v[i + 1];
    if (typeof k === 'string' && (typeof x === 'string' || typeof x === 'number')) m.set(k, String(x));
  }
  return m;
}
