-- Argo CD health of a dataops.dev DataPipeline, from the status the dataops operator writes.
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
  hs.message = "the pipeline is being deleted"
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
-- Configured is what Ready was before Ready became data-aware (operators before it wrote only Ready).
local configured = condition(status, "Configured")
if configured == nil then configured = ready end
if configured.status == "False" then
  -- Blocked (a policy, an invalid plan, a missing DataQualitySuite, a failed apply): suspending
  -- does not fix it, so it stays Degraded while suspended.
  hs.status = "Degraded"
  hs.message = explain(configured)
  return hs
end
for _, c in ipairs({configured, ready}) do
  if c.status ~= "True" and c.status ~= "False" then
    hs.status = "Progressing"
    hs.message = text(c.type) .. " is " .. text(c.status) .. ": " .. explain(c)
    return hs
  end
end

local degraded = condition(status, "Degraded")
local failed = degraded ~= nil and degraded.status == "True"
local streaming = obj.spec ~= nil and obj.spec.mode == "Streaming"
local active = status.activeRuns ~= nil and #status.activeRuns > 0
local current = status.currentRun

if obj.spec ~= nil and obj.spec.suspend == true then
  hs.status = "Suspended"
  hs.message = "the pipeline is suspended (spec.suspend)"
  if active and not streaming and current ~= nil then
    hs.message = hs.message .. "; run " .. text(current.id) .. " is finishing"
  end
  if failed then
    hs.message = hs.message .. "; " .. explain(degraded)
  end
  return hs
end

local sources = condition(status, "SourcesReady")
if sources ~= nil and sources.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(sources)
  return hs
end

if streaming then
  local state = "Unknown"
  if status.streaming ~= nil and status.streaming.state ~= nil then state = status.streaming.state end
  local fresh = condition(status, "Fresh")
  if active and state == "Running" and fresh ~= nil and fresh.status == "False" then
    hs.status = "Degraded"
    hs.message = "the streaming job is running but " .. explain(fresh)
    return hs
  end
  if active and state == "Running" then
    hs.status = "Healthy"
    hs.message = "the streaming job is running"
    if status.streaming.batchId ~= nil then
      hs.message = hs.message .. ", batch " .. text(status.streaming.batchId)
    end
    if status.streaming.consumerLag ~= nil then
      hs.message = hs.message .. ", consumer lag " .. text(status.streaming.consumerLag)
    end
    return hs
  end
  if active then
    hs.status = "Progressing"
    hs.message = "the streaming job is " .. state
    if current ~= nil then
      hs.message = hs.message .. " (run " .. text(current.id) .. " attempt " .. text(current.attempt)
        .. " is " .. text(current.outcome) .. ")"
    end
    return hs
  end
  hs.status = "Degraded"
  if failed then
    hs.message = explain(degraded)
  else
    hs.message = "the streaming job is not running (" .. state .. "); run-now starts it again"
  end
  return hs
end

if active then
  local progressing = condition(status, "Progressing")
  hs.status = "Progressing"
  if progressing ~= nil and progressing.status == "True" and progressing.message ~= nil then
    hs.message = progressing.message
  elseif current ~= nil then
    hs.message = "run " .. text(current.id) .. " is " .. text(current.outcome)
  else
    hs.message = "a run is active"
  end
  return hs
end

if failed then
  hs.status = "Degraded"
  hs.message = explain(degraded)
  return hs
end

-- Ready is data-aware: with the configuration fine and no run failed, False means stale data.
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = explain(ready)
  return hs
end

hs.status = "Healthy"
if status.lastRun ~= nil then
  hs.message = "last run " .. text(status.lastRun.id) .. " " .. text(status.lastRun.outcome)
else
  hs.message = "ready; no run yet"
end
local policy = condition(status, "PolicyCompliant")
if policy ~= nil and (policy.status == "False" or policy.reason == "UnclassifiedPersonalData") then
  hs.message = hs.message .. "; " .. explain(policy)
end
return hs
