-- Argo CD health of a dataops.dev DataPolicy, from the status the dataops operator writes.
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
  hs.message = "the policy is being deleted"
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

-- The API server enforces the policy through a ValidatingAdmissionPolicy; when that is not in
-- place, violating pipelines can be created.
local admission = condition(status, "AdmissionPolicyReady")
if admission ~= nil and admission.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(admission)
  return hs
end
if admission ~= nil and admission.status ~= "True" then
  hs.status = "Progressing"
  hs.message = explain(admission)
  return hs
end

local enforcement = "Enforce"
if obj.spec ~= nil and obj.spec.enforcement ~= nil then enforcement = obj.spec.enforcement end
local compliant = condition(status, "PolicyCompliant")
if compliant ~= nil and compliant.status == "False" then
  if enforcement == "Audit" then
    -- Audit only reports: the pipelines keep running, so the policy itself is healthy.
    hs.status = "Healthy"
    hs.message = "audit: " .. explain(compliant)
  else
    hs.status = "Degraded"
    hs.message = explain(compliant)
  end
  return hs
end
hs.status = "Healthy"
if compliant ~= nil then
  hs.message = text(compliant.message)
else
  hs.message = text(ready.message)
end
return hs
