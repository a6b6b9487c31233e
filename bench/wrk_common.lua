-- What bench/intake.lua and bench/rest.lua share, loaded by each with dofile from its own folder
-- (wrk's Lua is LuaJIT, Lua 5.1: dofile and debug.getinfo are there):
--
--   dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "wrk_common.lua")
--
-- setup() numbers the threads (each script's init reads its global `id`); response() counts the
-- responses whose status is not the global `expect` (the script's init sets it, from BENCH_WRK_EXPECT)
-- and keeps the first one; done() prints one JSON line (marker WRK-JSON) that bench/wrk.py reads, and
-- the first unexpected response's status and body.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- globals, so done() can read them from each thread with thread:get
sent, unexpected, first_status, first_body = 0, 0, 0, ""

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
