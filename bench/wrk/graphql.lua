-- One GraphQL request, the same every time: POST the JSON body of a file with a bearer token.
--   wrk -t1 -c32 -d10s -s bench/wrk/graphql.lua http://127.0.0.1:PORT/graphql -- BODY.json TOKEN_FILE
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local slurp = report.slurp

setup = report.setup
response = report.response
done = report.done

function init(args)
  local body = slurp(args[1])
  local token = slurp(args[2]):gsub("%s+$", "")
  req = wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
  report.reset()
end

function request()
  return req
end
