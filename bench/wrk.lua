-- wrk script for scripts/bench.sh. BENCH_MODE picks the request:
--   page    GET  /launch/<slug>?ref=producthunt, one fixed browser visitor
--   uncounted GET /launch/bench-none?ref=producthunt: an unknown launch's 404 page, cached in
--           memory like a page but never counted (the page path minus counting; diagnostic)
--   floor   GET  /healthz: "ok" from the router before any work (the Rust worker's own
--           floor: workers-rs entry and exit, no page; the baseline answers "ok" too)
--   view    GET  the page as a distinct browser visitor per request (counted in wait_until)
--   click   GET  /go/<slug>?to=signup, a distinct visitor per request (302)
--   beacon  POST /launch/<slug>/events {"kind":"signup"}, a distinct visitor per request (202)
-- BENCH_LAUNCHES_N=N (with BENCH_SLUG_PREFIX, default "bench-l"): the view mode spreads its
-- requests round-robin over the N launches <prefix>0 .. <prefix>N-1 instead of BENCH_SLUG.
-- Distinct visitors come from distinct cf-connecting-ip headers, so the per-IP rate limit
-- (500/min) never trips. done() prints one JSON line the runner parses.
local mode = os.getenv("BENCH_MODE") or "page"
local slug = os.getenv("BENCH_SLUG") or "bench-launch"
local UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

local threads = {}
local thread_no = 0
function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  table.insert(threads, thread)
end

local n = 0
local tid = 1
function init(args)
  tid = tonumber(wrk.thread:get("tid")) or 1
end

local function visitor()
  n = n + 1
  return string.format("10.%d.%d.%d", (tid * 16 + math.floor(n / 65536)) % 256, math.floor(n / 256) % 256, n % 256)
end

local page_path = "/launch/" .. slug .. "?ref=producthunt"
local launches_n = tonumber(os.getenv("BENCH_LAUNCHES_N") or "0") or 0
local slug_prefix = os.getenv("BENCH_SLUG_PREFIX") or "bench-l"
local fixed = { ["user-agent"] = UA, ["cf-connecting-ip"] = "10.255.0.1" }

function request()
  if mode == "page" then
    return wrk.format("GET", page_path, fixed)
  elseif mode == "floor" then
    return wrk.format("GET", "/healthz", fixed)
  elseif mode == "uncounted" then
    return wrk.format("GET", "/launch/bench-none?ref=producthunt", fixed)
  elseif mode == "view" then
    local ip = visitor()
    local path = page_path
    if launches_n > 0 then path = "/launch/" .. slug_prefix .. (n % launches_n) .. "?ref=producthunt" end
    return wrk.format("GET", path, { ["user-agent"] = UA, ["cf-connecting-ip"] = ip })
  elseif mode == "click" then
    return wrk.format("GET", "/go/" .. slug .. "?to=signup&utm_source=bench", { ["user-agent"] = UA, ["cf-connecting-ip"] = visitor() })
  else
    return wrk.format("POST", "/launch/" .. slug .. "/events?utm_source=bench",
      { ["user-agent"] = UA, ["cf-connecting-ip"] = visitor(), ["content-type"] = "application/json" },
      '{"kind":"signup"}')
  end
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  -- Status counts live in each thread's Lua state: gather them.
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then for k, v in pairs(s) do merged[k] = (merged[k] or 0) + v end end
  end
  local parts = {}
  for k, v in pairs(merged) do table.insert(parts, string.format('"%d":%d', k, v)) end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"rps":%.1f,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), latency.mean,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status, summary.errors.timeout,
    table.concat(parts, ",")))
end
