-- Argo CD health of a dataops.dev DataQualitySuite, from the status the dataops operator writes.
-- Uses only Lua's base and table libraries (the default for argocd-cm health checks).
local hs = {}

local function text(value)
  if value == nil then return "" end
  return tostring(value)
end

local function condition(status, kind)
  if status.conditions == nil then return nil end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local function explain(c)
  local message = text(c.reason)
  if c.message ~= nil and c.message ~= "" then
    message = message .. ": " .. c.message
  end
  return message
end

local metadata = obj.metadata or {}
local generation = metadata.generation
local status = obj.status

if metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "the suite is being deleted"
  return hs
end
if status == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to report status"
  return hs
end
if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. text(generation)
    .. " (status is of generation " .. (status.observedGeneration ~= nil and text(status.observedGeneration) or "none") .. ")"
  return hs
end

local ready = condition(status, "Ready")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "waiting for the Ready condition"
  return hs
end
if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "waiting for the operator to observe generation " .. text(generation)
    .. " (Ready is of generation " .. text(ready.observedGeneration) .. ")"
  return hs
end
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(ready)
  return hs
end
if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = "Ready is " .. text(ready.status) .. ": " .. explain(ready)
  return hs
end

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "scheduled validations are suspended (spec.suspend)"
  return hs
end

if status.active ~= nil then
  hs.status = "Progressing"
  hs.message = "validation run " .. text(status.active.runId) .. " is running in pod " .. text(status.active.pod)
  return hs
end

local quality = condition(status, "QualityPassed")
if quality == nil or quality.reason == "NotYetValidated" then
  hs.status = "Healthy"
  hs.message = "no validation has run yet"
  return hs
end
if quality.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(quality)
  return hs
end
if quality.status ~= "True" then
  -- ValidationError: the last run could not validate the data at all.
  hs.status = "Degraded"
  hs.message = explain(quality)
  return hs
end
hs.status = "Healthy"
hs.message = text(quality.message)
return hs
