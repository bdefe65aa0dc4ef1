-- wrk -s order.lua: POST /order with valid orders, customer_id varying over a pre-built pool
-- (built once per thread in init, where wrk.host is known, to keep Lua work off the measured path).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./"
ORDERS_PER_REQUEST = 1
dofile(dir .. "report.lua")

local pool = {}
local POOL = 997

local function build()
  local currencies = { "USD", "EUR", "GBP" }
  for i = 1, POOL do
    local body = string.format(
      '{"customer_id":"CUST%06d","product_id":"PROD%04d","quantity":%d,"amount":%d.%02d,"currency":"%s"}',
      (i * 7919) % 100000, i % 5000, 1 + i % 9, i % 500, i % 100, currencies[1 + i % 3])
    pool[i] = wrk.format("POST", "/order", { ["Content-Type"] = "application/json" }, body)
  end
end
local report_init = init
function init(args)
  report_init(args)
  build()
end

local n = 0
function request()
  n = n % POOL + 1
  return pool[n]
end
