// The baseline for scripts/bench.sh: constant answers shaped like launch-edge's (a page of
// BODY_BYTES, a 302 for /go/*, a 202 for the beacon), with no work behind them.
let page;
const ACCEPTED = '{"accepted":true}';

export default {
  fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === "POST") {
      return new Response(ACCEPTED, { status: 202, headers: { "content-type": "application/json" } });
    }
    if (pathname === "/healthz") return new Response("ok");
    if (pathname.startsWith("/go/")) {
      return new Response(null, { status: 302, headers: { location: "https://example.com/signup" } });
    }
    page ??= "<!doctype html>" + "x".repeat(Math.max(0, Number(env.BODY_BYTES) - 15));
    return new Response(page, {
      headers: { "content-type": "text/html; charset=utf-8", "cache-control": "public, max-age=60", etag: '"baseline"' },
    });
  },
};
