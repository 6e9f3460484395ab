-- Converted-vs-native comparison script for the lua image: strings, tables,
-- coroutines, io and os. Output must be deterministic.

-- strings
local s = "The quick brown fox jumps over the lazy dog"
print("upper", s:upper())
print("len", #s, "rep", ("ab"):rep(3, "-"))
print("find", s:find("fox"), s:find("o", 20, true))
print("match", s:match("(%a+) fox"), s:match("(%a+)$"))
local words = {}
for w in s:gmatch("%a+") do words[#words + 1] = w end
print("words", #words, table.concat(words, ","))
print("gsub", (s:gsub("(%a)(%a*)", function(a, b) return a:upper() .. b end)))
print("format", string.format("%5.2f|%-5s|%05d|%x|%q|%g", math.pi, "x", 42, 255, "a\nb", 1e20))
print("byte/char", s:byte(1, 3), string.char(76, 117, 97))
print("pack", #string.pack("<i4 d s1", 7, 1.5, "hey"), string.unpack("<i4", string.pack("<i4", -3)))
print("utf8", utf8.len("héllo wörld"), utf8.char(72, 228, 8364))

-- tables
local t = {}
for i = 1, 1000 do t[i] = (i * 7919) % 1009 end
table.sort(t)
print("sorted", t[1], t[2], t[500], t[1000])
table.sort(t, function(a, b) return a > b end)
print("desc", t[1], t[1000])
local m = {}
for i, v in ipairs(t) do m["k" .. (v % 17)] = (m["k" .. (v % 17)] or 0) + i end
local keys = {}
for k in pairs(m) do keys[#keys + 1] = k end
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. m[k] end
print("grouped", table.concat(parts, " "))
table.insert(t, 1, -1); table.remove(t)
print("insert/remove", #t, t[1], select("#", table.unpack(t, 1, 10)))
print("move", table.concat(table.move({1, 2, 3}, 1, 3, 2, {9}), ","))
local mt = setmetatable({}, {__index = function(_, k) return k * 2 end, __call = function(_, x) return x + 1 end})
print("metatable", mt[21], mt(41))
local Vec = {}
Vec.__index = Vec
Vec.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, Vec) end
Vec.__tostring = function(v) return "(" .. v.x .. "," .. v.y .. ")" end
local v = setmetatable({x = 1, y = 2}, Vec) + setmetatable({x = 3, y = 4}, Vec)
print("vec", tostring(v))

-- coroutines
local function gen(n)
  return coroutine.wrap(function()
    local a, b = 0, 1
    for _ = 1, n do coroutine.yield(a); a, b = b, a + b end
  end)
end
local fib = {}
for x in gen(20) do fib[#fib + 1] = x end
print("fib", table.concat(fib, " "))
local co = coroutine.create(function(a, b)
  local c = coroutine.yield(a + b)
  local d, e = coroutine.yield(c * 2)
  return d + e
end)
print("resume", coroutine.resume(co, 1, 2))
print("resume", coroutine.resume(co, 10))
print("resume", coroutine.resume(co, 3, 4))
print("status", coroutine.status(co), coroutine.resume(co))
local errco = coroutine.create(function() error("boom") end)
local ok, err = coroutine.resume(errco)
print("error", ok, (tostring(err):gsub("^.-:%d+: ", "")))
-- producer/consumer
local producer = coroutine.create(function()
  for i = 1, 5 do coroutine.yield("item" .. i) end
  return nil
end)
local got = {}
while true do
  local _, item = coroutine.resume(producer)
  if not item then break end
  got[#got + 1] = item
end
print("consumed", table.concat(got, ","))

-- io and os
local name = "/tmp/lua-check.txt"
local f = assert(io.open(name, "w"))
for i = 1, 500 do f:write(string.format("line %03d %s\n", i, ("z"):rep(i % 40))) end
f:close()
f = assert(io.open(name, "a")); f:write("tail\n"); f:close()
local n, bytes, last = 0, 0, nil
for line in io.lines(name) do n = n + 1; bytes = bytes + #line + 1; last = line end
print("io lines", n, bytes, last)
f = assert(io.open(name, "rb"))
print("seek", f:seek("end"), f:seek("set", 9), f:read(8))
local all = f:read("a")
print("read all", #all)
f:close()
local p = assert(io.popen("echo from popen; echo second", "r"))
print("popen", p:read("l"), p:read("l"), p:close())
assert(os.rename(name, name .. ".2"))
print("rename", io.open(name) == nil, io.open(name .. ".2") ~= nil)
print("remove", os.remove(name .. ".2"), os.remove(name .. ".2") == nil)
print("date", os.date("!%Y-%m-%d %H:%M:%S", 86400 * 366), os.time({year = 2024, month = 1, day = 1, hour = 12}) ~= nil)
print("getenv", os.getenv("PATH") ~= nil, os.getenv("NO_SUCH_VAR_X"))
io.stdout:write("math ", math.floor(-2.5), " ", math.max(3, 9, 4), " ", math.tointeger(8.0), " ", 7 // 2, " ", 2^10, "\n")
io.stderr:write("to stderr\n")
print("done")
