-- wrk: every other request carries one of 1,000 users in x-user (the sticky entry); the rest go to the split.
local counter = 0
request = function()
  counter = counter + 1
  if counter % 2 == 1 then
    return wrk.format()
  end
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end  -- keeps -H "Host: ..."
  headers["x-user"] = "user-" .. (counter % 1000)
  return wrk.format(nil, nil, headers)
end
