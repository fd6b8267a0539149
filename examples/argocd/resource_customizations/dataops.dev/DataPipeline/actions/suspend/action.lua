-- Suspend: no scheduled runs start; a running batch run finishes, a streaming job is stopped.
obj.spec.suspend = true
return obj
