-- Q4: register a resident, a new valid NIK every request, distinct across requests, threads and runs.
--   wrk -t1 -c32 -d10s -s bench/wrk/register.lua URL -- BODY_TEMPLATE.json TOKEN_FILE RUN
-- The template's "@NIK@" and "@BIRTH@" are replaced. NIK = 51 (Bali: a valid province that no seeded NIK uses)
-- + RUN as 4 digits + birth date DDMMYY (a man's, matching birthDate) + serial 0001-9999 (api/rules/nik.py).
-- Thread t sends numbers t, t + 100, t + 200, ... so that threads never meet (at most 100 threads).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local report = require("report")

local slurp = report.slurp

setup = report.setup
response = report.response
done = report.done

local floor = math.floor

function init(args)
  template = slurp(args[1])
  local token = slurp(args[2]):gsub("%s+$", "")
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
  prefix = string.format("51%04d", tonumber(args[3]))
  counter = tid -- set by setup()
  report.reset()
end

function request()
  local k = counter
  counter = counter + 100
  local serial = k % 9999 + 1
  local r = floor(k / 9999)
  local yy = r % 100
  r = floor(r / 100)
  local mm = r % 12 + 1
  local dd = floor(r / 12) % 28 + 1
  local nik = string.format("%s%02d%02d%02d%04d", prefix, dd, mm, yy, serial)
  local birth = string.format("19%02d-%02d-%02d", yy, mm, dd)
  local body = template:gsub("@NIK@", nik):gsub("@BIRTH@", birth)
  return wrk.format("POST", nil, headers, body)
end
