-- wrk script for the FHIR REST benchmark (bench/fhir.py writes the request list and runs wrk with it):
--
--   wrk -t2 -c4 -d6s --timeout 60s -s bench/rest.lua URL -- REQUESTS NONCE THREADS
--
-- REQUESTS is a file of one request per line, "METHOD<TAB>PATH<TAB>BODY" (BODY empty for a GET; bodies
-- are single-line JSON). Thread t sends lines t, t+T, t+2T, ... in turn, wrapping round; every request
-- gets an X-Request-Id of its own (from NONCE, the thread and its count). Headers (authorization,
-- content-type) come from BENCH_WRK_AUTHORIZATION and BENCH_WRK_CONTENT_TYPE; BENCH_WRK_EXPECT is the
-- status every response must have. setup(), response() and done() are bench/wrk_common.lua's, as for
-- bench/intake.lua.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")

local lines, position, nonce, thread_count

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
  expect = tonumber(os.getenv("BENCH_WRK_EXPECT") or "200") -- global: wrk_common.lua's response() reads it
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
