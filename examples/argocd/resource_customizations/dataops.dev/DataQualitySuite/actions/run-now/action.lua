-- Validate now: the operator starts a validation pod for every new dataops.dev/run-now value (the
-- value it last handled is status.lastRunNow). The token is the current UTC time, made unique
-- against the annotation's current value and the last handled one.
local os = require("os")
if obj.metadata == nil then
  obj.metadata = {}
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local previous = obj.metadata.annotations["dataops.dev/run-now"]
local handled = nil
if obj.status ~= nil then handled = obj.status.lastRunNow end
local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ")
local token = stamp
local n = 1
while token == previous or token == handled do
  token = stamp .. "-" .. tostring(n)
  n = n + 1
end
obj.metadata.annotations["dataops.dev/run-now"] = token
return obj
