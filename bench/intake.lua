-- wrk script for the intake benchmark (bench/wrk.py writes the template and runs wrk with it):
--
--   wrk -t2 -c4 -d10s --timeout 60s -s bench/intake.lua URL -- TEMPLATE NONCE SERIAL_BASE SERIAL_SPAN
--
-- Every request POSTs a new BaRS message: the template's @@U<k>@@ placeholders become uuids of this
-- request's own (nonce, thread, k, request number), @@NHS@@ a valid NHS number from the 999 test range
-- (modulus 11; each thread draws from its own block of serials), and X-Request-Id is a uuid of its own.
-- Headers (authorization, content-type) come from the environment: BENCH_WRK_AUTHORIZATION,
-- BENCH_WRK_CONTENT_TYPE. BENCH_WRK_EXPECT is the status every response must have; setup(), response()
-- and done() (one JSON line, marker WRK-JSON, that bench/wrk.py reads) are bench/wrk_common.lua's.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")

local template, nonce, serial, serial_end

function init(args)
  local file = assert(io.open(args[1], "rb"))
  template = file:read("*a")
  file:close()
  nonce = tonumber(args[2])
  local base, span = tonumber(args[3]), tonumber(args[4])
  serial = base + id * span
  serial_end = serial + span
  expect = tonumber(os.getenv("BENCH_WRK_EXPECT") or "201") -- global: wrk_common.lua's response() reads it
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
