-- send+verify pairs through test destinations (OTP_TEST_DESTINATIONS): each send's reply gives the
-- challenge id, and a verify of that id with the destination's fixed code follows on the thread's next
-- free connection. Test destinations skip delivery and every limit, so this measures the send use
-- case without them, plus a full approval; send.lua measures the full send path.
-- wrk -s pairs.lua URL -- DESTINATIONS CODE
-- Destinations: load-pair-<k>@example.com, k = 0 … DESTINATIONS-1, all with CODE (run.sh configures
-- the same list). Each send names its own purpose, so no send replaces a pending code of another.
-- response() is needed to learn the ids, so wrk runs its slower path here.

local next_thread = 0
local threads = {}

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
  table.insert(threads, thread)
end

function init(args)
  destinations, code = tonumber(args[1]), args[2]
  headers = { ["Content-Type"] = "application/json" }
  sends, ids, first, last = 0, {}, 1, 0   -- ids[first..last]: sent, not yet verified
  statuses = {}
end

function request()
  if first <= last then
    local id = ids[first]
    ids[first] = nil
    first = first + 1
    return wrk.format("POST", "/v1/otp/verify", headers,
      '{"id":"' .. id .. '","code":"' .. code .. '"}')
  end
  sends = sends + 1
  return wrk.format("POST", "/v1/otp/send", headers,
    string.format('{"channel":"email","to":"load-pair-%d@example.com","purpose":"p%d-%d"}',
      sends % destinations, thread_index, sends))
end

function response(status, headers, body)
  local id = body:match('^{"id":"(%w+)"')
  local word
  if id and status == 202 then
    last = last + 1
    ids[last] = id
    word = "sent"
  else
    word = body:match('"status":"([%w_]+)"') or ("http-" .. status)
  end
  statuses[word] = (statuses[word] or 0) + 1
end

function done(summary, latency, requests)
  local seen = {}
  for _, thread in ipairs(threads) do
    for word, n in pairs(thread:get("statuses")) do seen[word] = (seen[word] or 0) + n end
  end
  local parts = {}
  for word, n in pairs(seen) do parts[#parts + 1] = '"' .. word .. '":' .. n end
  io.write(string.format('LOADJSON {"statuses":{%s}}\n', table.concat(parts, ",")))
end
