-- wrk -s: every request carries the next Cookie header value from $BENCH_COOKIE_FILE (one a
-- line), round-robin, so a list of 10,000 session cookies is 10,000 distinct sessions. The
-- requests are formatted once here, so the per-request cost in wrk is a table lookup.
local reqs = {}
local n = 0
local i = 0

function init(args)
  local file = os.getenv("BENCH_COOKIE_FILE")
  for line in io.lines(file) do
    if line ~= "" then
      n = n + 1
      local headers = { ["Cookie"] = line }
      for k, v in pairs(wrk.headers) do headers[k] = v end
      reqs[n] = wrk.format(nil, nil, headers)
    end
  end
  if n == 0 then error("no cookies in " .. tostring(file)) end
end

function request()
  i = i % n + 1
  return reqs[i]
end
