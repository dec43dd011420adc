-- wrk script: realistic, distinct beacons.  A pool of visitors (each with
-- its session) is made once per thread; every request is the next event
-- of one of them: a counter makes (v, s, n, u, q) distinct, so nothing is
-- a duplicate.  Everything per request is one string.format, and there is
-- no response() callback (it makes wrk parse every answer): answers that
-- are not 2xx are wrk's errors.status, so 204s = requests - errors.status.
local threads = {}
local UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
local names = { "pageview", "pageview", "heartbeat", "scroll", "interaction" }
local POOL = 4096

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
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

function init(args)
	math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6) + id * 7919)
	visitors = {}
	for i = 1, POOL do
		visitors[i] = '"v":"' .. uuid() .. '","s":"' .. uuid() .. '"'
	end
	counter = 0
	headers = { ["Content-Type"] = "text/plain;charset=UTF-8", ["User-Agent"] = UA }
end

function request()
	counter = counter + 1
	local body = string.format(
		'{"d":"example.com","n":"%s","u":"https://example.com/blog/post-%d?utm_source=news",%s,"r":"https://www.google.com/","q":%d,"sd":%d,"et":%d,"w":%d}',
		names[counter % 5 + 1], counter % 500, visitors[counter % POOL + 1],
		counter, counter % 101, counter * 10, 360 + counter % 1560)
	return wrk.format("POST", "/e", headers, body)
end

function done(summary, latency, requests)
	io.write(string.format("RESULT n204=%d nother=%d errors=%d rps=%.1f p50_us=%d p99_us=%d\n",
		summary.requests - summary.errors.status, summary.errors.status,
		summary.errors.connect + summary.errors.read + summary.errors.write +
		summary.errors.timeout, summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(99)))
end
