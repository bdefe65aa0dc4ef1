-- wrk -s batch.lua: POST /orders/batch with 1000 valid orders per request (a few pre-built
-- bodies, cycled, so customer ids vary between requests).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*/)") or "./"
ORDERS_PER_REQUEST = tonumber(os.getenv("BATCH_SIZE") or "1000")
dofile(dir .. "report.lua")

local pool = {}
local POOL = 8

local function build()
  for p = 1, POOL do
    local items = {}
    for i = 1, ORDERS_PER_REQUEST do
      local k = p * ORDERS_PER_REQUEST + i
      items[i] = string.format(
        '{"customer_id":"CUST%06d","product_id":"PROD%04d","quantity":%d,"amount":%d.%02d}',
        (k * 7919) % 100000, k % 5000, 1 + k % 9, k % 500, k % 100)
    end
    pool[p] = wrk.format("POST", "/orders/batch", { ["Content-Type"] = "application/json" }, "[" .. table.concat(items, ",") .. "]")
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
