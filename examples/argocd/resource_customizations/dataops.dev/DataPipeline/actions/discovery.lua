-- Actions Argo CD offers on a dataops.dev DataPipeline.
--   run-now: sets the dataops.dev/run-now annotation to a new token (the operator starts one run
--            per new token; a Streaming pipeline's job is restarted from its checkpoint)
--   suspend / resume: sets spec.suspend (no scheduled runs; a running batch run finishes, a
--            streaming job is stopped)
local actions = {}
actions["run-now"] = {["iconClass"] = "fa fa-fw fa-play-circle", ["displayName"] = "Run now", ["disabled"] = false}
actions["suspend"] = {["iconClass"] = "fa fa-fw fa-pause", ["disabled"] = false}
actions["resume"] = {["iconClass"] = "fa fa-fw fa-play", ["disabled"] = false}

local suspended = obj.spec ~= nil and obj.spec.suspend == true
local streaming = obj.spec ~= nil and obj.spec.mode == "Streaming"
local deleting = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil

-- Blocked is Configured=False (Ready=False where an older operator wrote no Configured): a
-- pipeline whose last run failed or whose data is stale is not blocked, and run-now is the fix.
local configured = nil
local ready = nil
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Configured" then configured = c end
    if c.type == "Ready" then ready = c end
  end
end
if configured == nil then configured = ready end
local blocked = configured ~= nil and configured.status == "False"

actions["suspend"]["disabled"] = suspended or deleting
actions["resume"]["disabled"] = not suspended or deleting
-- A blocked pipeline starts no run: the token would wait and start a surprise run once the
-- pipeline is fixed. A suspended Streaming pipeline keeps its job stopped, so run-now does nothing.
actions["run-now"]["disabled"] = deleting or blocked or (suspended and streaming)
return actions
