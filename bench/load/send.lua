-- send-only: every request a send to a destination no earlier request used, so each one takes the
-- full path (SMS rules, limits, CSPRNG, hashing, sealing, store, rendering, outbox delivery).
-- wrk -s send.lua URL -- CHANNEL RUN      CHANNEL: email or sms; RUN: one digit, 0 to 4, distinct
--                                          for each wrk run against the same server
-- Email: load-r<RUN>-t<thread>-<n>@example.com. SMS: +44 74<RUN><thread> <n, 6 digits>, UK mobile
-- numbers (074 0 to 074 4 are mobile ranges; guard.rs admits GB mobiles by default).
-- No response() callback: wrk stays on its fast path; its summary counts non-2xx replies.

local next_thread = 0

function setup(thread)
  thread:set("thread_index", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  channel, run = args[1], args[2]
  sent = 0
  headers = { ["Content-Type"] = "application/json" }
end

function request()
  sent = sent + 1
  local to
  if channel == "sms" then
    to = string.format("+4474%s%d%06d", run, thread_index % 10, sent % 1000000)
  else
    to = string.format("load-r%s-t%d-%d@example.com", run, thread_index, sent)
  end
  return wrk.format("POST", "/v1/otp/send", headers,
    '{"channel":"' .. channel .. '","to":"' .. to .. '"}')
end
