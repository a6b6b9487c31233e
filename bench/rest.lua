-- wrk script for the FHIR REST benchmark (bench/fhir.py writes the request list and runs wrk with it):
--
--   wrk -t2 -c4 -d6s --timeout 60s -s bench/rest.lua URL -- REQUESTS NONCE THREADS
--
-- REQUESTS is a file of one request per line, "METHOD<TAB>PATH<TAB>BODY" (BODY empty for a GET; bodies
-- are single-line JSON). Thread t sends lines t, t+T, t+2T, ... in turn, wrapping round; every request
-- gets an X-Request-Id of its own (from NONCE, the thread and its count). Headers (authorization,
-- content-type) come from BENCH_WRK_AUTHORIZATION and BENCH_WRK_CONTENT_TYPE; BENCH_WRK_EXPECT is the
-- status every response must have. done() prints the same WRK-JSON line as bench/intake.lua.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local lines, position, nonce, expect, thread_count
sent, unexpected, first_status, first_body = 0, 0, 0, ""

function init(args)
  lines = {}
  for line in io.lines(args[1]) do
    local method, path, body = line:match("^([A-Z]+)\t([^\t]+)\t?(.*)$")
    assert(method, "bad request line: " .. line:sub(1, 80))
    table.insert(lines, {method, path, body ~= "" and body or nil})
  end
  assert(#lines > 0, "no requests in " .. args[1])
  nonce = tonumber(args[2])
  thread_count = tonumber(args[3])
  position = id % #lines
  expect = tonumber(os.getenv("BENCH_WRK_EXPECT") or "200")
  wrk.headers["Content-Type"] = os.getenv("BENCH_WRK_CONTENT_TYPE") or "application/fhir+json"
  local authorization = os.getenv("BENCH_WRK_AUTHORIZATION") or ""
  if authorization ~= "" then
    wrk.headers["Authorization"] = authorization
  end
end

function request()
  sent = sent + 1
  local entry = lines[position + 1]
  position = (position + thread_count) % #lines
  wrk.headers["X-Request-Id"] = string.format("%08x-%04x-4000-8000-%012x", nonce, id, sent)
  return wrk.format(entry[1], entry[2], nil, entry[3])
end

function response(status, headers, body)
  if status ~= expect then
    unexpected = unexpected + 1
    if first_status == 0 then
      first_status, first_body = status, body
    end
  end
end

function done(summary, latency, requests)
  local bad, status, body = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    if status == 0 and thread:get("first_status") ~= 0 then
      status, body = thread:get("first_status"), thread:get("first_body")
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, '
      .. '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, '
      .. '"write_errors": %d, "status_errors": %d, "timeouts": %d, "unexpected": %d, '
      .. '"first_unexpected_status": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout,
    bad, status))
  if status ~= 0 then
    io.write("WRK-FIRST-UNEXPECTED-BODY " .. string.sub(body, 1, 1500) .. "\n")
  end
end
