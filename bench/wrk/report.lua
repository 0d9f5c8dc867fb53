-- Shared by graphql.lua and register.lua: reading their argument files, and checking responses. Every response is checked, and done() prints one JSON line
-- ("BENCH_JSON {...}") that bench/compare.py reads. A response counts as failed when its status is not 2xx
-- or when its body carries a GraphQL error or a mutation's user error ('"errors":[{'; an empty list is fine).
local report = {}

local threads = {}

-- A whole file, as given on wrk's command line (a request body, a token).
function report.slurp(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function report.setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function report.reset()
  non2xx, graphql_errors = 0, 0
end

function report.response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  elseif body:find('"errors":[{', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function report.done(summary, latency, requests)
  local bad, errs = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    errs = errs + (thread:get("graphql_errors") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,'
      .. '"p99_us":%d,"max_us":%d,"non2xx":%d,"graphql_errors":%d,"socket_errors":%d,"timeouts":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency.mean, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, bad, errs,
    e.connect + e.read + e.write, e.timeout))
end

return report
