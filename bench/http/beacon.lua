-- wrk script: realistic, distinct beacons (random visitor/session UUIDs,
-- paths and viewport per request), counting 204s so the run can check
-- that events stored == events acknowledged.
local threads = {}
local UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
local names = { "pageview", "pageview", "heartbeat", "scroll", "interaction" }

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	n204 = 0
	nother = 0
	math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6) + tonumber(tostring({}):sub(8), 16) % 100000)
end

local function hex(n)
	local t = {}
	for i = 1, n do
		t[i] = string.format("%x", math.random(0, 15))
	end
	return table.concat(t)
end

local function uuid()
	return hex(8) .. "-" .. hex(4) .. "-4" .. hex(3) .. "-" ..
		string.format("%x", math.random(8, 11)) .. hex(3) .. "-" .. hex(12)
end

function request()
	local body = string.format(
		'{"d":"example.com","n":"%s","u":"https://example.com/blog/post-%d?utm_source=news","v":"%s","s":"%s","r":"https://www.google.com/","q":%d,"sd":%d,"w":%d}',
		names[math.random(1, #names)], math.random(1, 500), uuid(), uuid(),
		math.random(0, 20), math.random(0, 100), math.random(360, 1920))
	return wrk.format("POST", "/e",
		{ ["Content-Type"] = "text/plain;charset=UTF-8", ["User-Agent"] = UA },
		body)
end

function response(status, headers, body)
	if status == 204 then
		n204 = n204 + 1
	else
		nother = nother + 1
	end
end

function done(summary, latency, requests)
	local a, b = 0, 0
	for _, t in ipairs(threads) do
		a = a + t:get("n204")
		b = b + t:get("nother")
	end
	io.write(string.format("RESULT n204=%d nother=%d errors=%d rps=%.1f p50_us=%d p99_us=%d\n",
		a, b, summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout, summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(99)))
end
