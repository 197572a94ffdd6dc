-- wrk script: send requests picked at random from a file, print a JSON summary.
--
--   wrk -t1 -c16 -d10s -s bench/wrk_requests.lua http://127.0.0.1:8001 -- requests.tsv
--
-- Each line of the file: METHOD <tab> PATH <tab> BODY <tab> HEADERS, HEADERS being
-- "Name: value" pairs separated by "|" (BODY and HEADERS may be empty).

local requests = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

local function split(line, sep)
  local out = {}
  for field in (line .. sep):gmatch("(.-)" .. sep) do
    table.insert(out, field)
  end
  return out
end

function init(args)
  math.randomseed(os.time() * 100 + (id or 0))
  for line in io.lines(args[1]) do
    local f = split(line, "\t")
    local headers = {}
    if f[4] and f[4] ~= "" then
      for _, pair in ipairs(split(f[4], "|")) do
        local name, value = pair:match("^(.-):%s*(.*)$")
        if name then headers[name] = value end
      end
    end
    local body = f[3] ~= "" and f[3] or nil
    table.insert(requests, wrk.format(f[1], f[2], headers, body))
  end
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, '
    .. '"max_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
