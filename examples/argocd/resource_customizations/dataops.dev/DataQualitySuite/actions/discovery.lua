-- Actions Argo CD offers on a dataops.dev DataQualitySuite.
--   run-now: sets the dataops.dev/run-now annotation to a new token (the operator starts one
--            validation pod per new token; the suite needs spec.dataset)
--   suspend / resume: sets spec.suspend (no scheduled validations; run-now still works)
local actions = {}
actions["run-now"] = {["iconClass"] = "fa fa-fw fa-play-circle", ["displayName"] = "Run now", ["disabled"] = false}
actions["suspend"] = {["iconClass"] = "fa fa-fw fa-pause", ["disabled"] = false}
actions["resume"] = {["iconClass"] = "fa fa-fw fa-play", ["disabled"] = false}

local suspended = obj.spec ~= nil and obj.spec.suspend == true
local has_dataset = obj.spec ~= nil and obj.spec.dataset ~= nil
local deleting = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil
-- A token set while a validation runs is used up without a run (the operator skips it).
local running = obj.status ~= nil and obj.status.active ~= nil

actions["suspend"]["disabled"] = suspended or deleting
actions["resume"]["disabled"] = not suspended or deleting
-- Without spec.dataset the suite only runs as a pipeline's quality gate.
actions["run-now"]["disabled"] = deleting or running or not has_dataset
return actions
