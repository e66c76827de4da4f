// A loopback HTTP proxy between the worker and the origin, for the drain's failure modes:
// it forwards everything, except that a queued `answers` entry replaces the answer to one
// `/ingest/batch` request — an intermediary's page (unsigned: a proxy's 404, a tunnel's
// 530, a captive portal's 200) or, holding the shared secret like the origin, a signed
// refusal (a stand-in for an origin release that refuses a batch).
import http from "node:http";
import { createHmac } from "node:crypto";
import { freePort, SIGNING_SECRET } from "./harness.mjs";

/** The origin's answer signature (proto/src/signing.rs `SignedResponse`). */
export function signAnswer(status, requestSignature, body, secret = SIGNING_SECRET) {
  const mac = createHmac("sha256", secret)
    .update(`v1\nresponse\n${status}\n${requestSignature.trim()}\n`)
    .update(body)
    .digest("hex");
  return `v1=${mac}`;
}

export class IngestProxy {
  constructor(target) {
    this.target = target;
    /** Queued replacements: `{ status, body, contentType?, signed?, match? }`, each used
     *  once, for the next ingest request whose batch id `match` accepts (any by default). */
    this.answers = [];
    /** Every ingest request seen: `{ batchId, answeredBy: "proxy" | "origin", status }`. */
    this.seen = [];
  }

  async start() {
    this.port = await freePort();
    this.url = `http://127.0.0.1:${this.port}`;
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => this.#handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy()));
    });
    await new Promise((r) => this.server.listen(this.port, "127.0.0.1", r));
    return this;
  }

  async #handle(req, res, body) {
    const isIngest = req.url === "/ingest/batch";
    const batchId = isIngest ? JSON.parse(body.toString()).batch_id : undefined;
    const at = isIngest ? this.answers.findIndex((a) => !a.match || a.match(batchId)) : -1;
    const replacement = at >= 0 ? this.answers.splice(at, 1)[0] : undefined;
    if (replacement) {
      const answer = Buffer.from(replacement.body);
      const headers = { "content-type": replacement.contentType ?? "text/html" };
      if (replacement.signed) {
        headers["x-launch-edge-response-signature"] = signAnswer(replacement.status, req.headers["x-launch-edge-signature"] ?? "", answer);
      }
      this.seen.push({ batchId, answeredBy: "proxy", status: replacement.status });
      res.writeHead(replacement.status, headers);
      res.end(answer);
      return;
    }
    const upstream = await fetch(`${this.target.url}${req.url}`, {
      method: req.method,
      headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k))),
      body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
    });
    const answer = Buffer.from(await upstream.arrayBuffer());
    if (isIngest) this.seen.push({ batchId, answeredBy: "origin", status: upstream.status });
    res.writeHead(upstream.status, Object.fromEntries(upstream.headers));
    res.end(answer);
  }

  stop() {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(r));
  }
}
