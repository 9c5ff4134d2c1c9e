-- verify-only: right-code approvals of challenges created beforehand (load.py prepare).
-- wrk -s verify.lua URL -- POOL_FILE THREADS [tally]
-- Thread k (0-based) takes lines k, k+THREADS, … of the pool ("id code" per line) and builds every
-- request up front, so request() only hands out prebuilt strings. If a thread's slice runs out it
-- starts again from its first line: those verifies answer 409 "consumed" and the run is flagged.
-- With "tally", response() counts the JSON "status" of each reply (slower client; see run.sh).

local next_thread = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  local pool_file, thread_count = args[1], tonumber(args[2])
  requests, sent, wrapped = {}, 0, 0
  local line_no = 0
  for line in io.lines(pool_file) do
    if line_no % thread_count == thread_index then
      local id, code = line:match("^(%S+) (%S+)$")
      requests[#requests + 1] = wrk.format("POST", "/v1/otp/verify",
        { ["Content-Type"] = "application/json" },
        '{"id":"' .. id .. '","code":"' .. code .. '"}')
    end
    line_no = line_no + 1
  end
  if args[3] == "tally" then
    statuses = {}
    response = function(status, headers, body)
      local word = body:match('"status":"([%w_]+)"') or ("http-" .. status)
      statuses[word] = (statuses[word] or 0) + 1
    end
  end
end

function request()
  sent = sent + 1
  local i = sent
  if i > #requests then
    wrapped = wrapped + 1
    i = (i - 1) % #requests + 1
  end
  return requests[i]
end

-- One line the runner parses: pool size, requests handed out, how many re-used a consumed pair, and
-- the status words seen (tally mode).
function done(summary, latency, requests)
  local pool, handed, reused, seen = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    pool = pool + #thread:get("requests")
    handed = handed + thread:get("sent")
    reused = reused + thread:get("wrapped")
    for word, n in pairs(thread:get("statuses") or {}) do seen[word] = (seen[word] or 0) + n end
  end
  local parts = {}
  for word, n in pairs(seen) do parts[#parts + 1] = '"' .. word .. '":' .. n end
  io.write(string.format('LOADJSON {"pool":%d,"handed_out":%d,"reused":%d,"statuses":{%s}}\n',
    pool, handed, reused, table.concat(parts, ",")))
end
