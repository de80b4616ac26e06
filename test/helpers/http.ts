// HTTP GET against the proxy's --http-port (/metrics, /healthz, /status.json, /), for the operations tests.
import * as http from 'node:http';

export interface HttpReply {
  status: number;
  /** The content-type header ('' when absent). */
  type: string;
  body: string;
}

/** GET http://127.0.0.1:port/urlPath on a fresh connection (no agent), bounded by 5 s. */
export function httpGet(port: number, urlPath: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error(`GET ${urlPath} timed out`)));
  });
}
