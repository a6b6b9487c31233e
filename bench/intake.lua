-- wrk script for the intake benchmark (bench/wrk.py writes the template and runs wrk with it):
--
--   wrk -t2 -c4 -d10s --timeout 60s -s bench/intake.lua URL -- TEMPLATE NONCE SERIAL_BASE SERIAL_SPAN
--
-- Every request POSTs a new BaRS message: the template's @@U<k>@@ placeholders become uuids of this
-- request's own (nonce, thread, k, request number), @@NHS@@ a valid NHS number from the 999 test range
-- (modulus 11; each thread draws from its own block of serials), and X-Request-Id is a uuid of its own.
-- Headers (authorization, content-type) come from the environment: BENCH_WRK_AUTHORIZATION,
-- BENCH_WRK_CONTENT_TYPE. BENCH_WRK_EXPECT is the status every response must have; done() prints one
-- JSON line (marker WRK-JSON) that bench/wrk.py reads, and the first unexpected response's status and body.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local template, nonce, serial, serial_end, expect
-- globals, so done() can read them from each thread with thread:get
sent, unexpected, first_status, first_body = 0, 0, 0, ""

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  nonce = tonumber(args[2])
  local base, span = tonumber(args[3]), tonumber(args[4])
  serial = base + id * span
  serial_end = serial + span
  expect = tonumber(os.getenv("BENCH_WRK_EXPECT") or "201")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("BENCH_WRK_CONTENT_TYPE") or "application/fhir+json"
  wrk.headers["Authorization"] = os.getenv("BENCH_WRK_AUTHORIZATION")
end

local function uuid(k)
  return string.format("%08x-%04x-4%03x-8%03x-%012x", nonce, id, k, 0, sent)
end

local function nhs_number()
  -- the next serial whose modulus 11 check digit is not 10 (those numbers are never issued)
  while true do
    assert(serial < serial_end, "out of NHS numbers: give a larger SERIAL_SPAN")
    local first_nine = string.format("999%06d", serial)
    serial = serial + 1
    local total = 0
    for i = 1, 9 do
      total = total + tonumber(first_nine:sub(i, i)) * (11 - i)
    end
    local check = 11 - total % 11
    if check ~= 10 then
      return first_nine .. (check == 11 and "0" or tostring(check))
    end
  end
end

function request()
  sent = sent + 1
  local body = template:gsub("@@U(%d+)@@", function(k) return uuid(tonumber(k)) end)
  body = body:gsub("@@NHS@@", nhs_number())
  wrk.headers["X-Request-Id"] = uuid(4095)
  return wrk.format(nil, nil, nil, body)
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
