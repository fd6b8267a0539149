-- Suspend: no scheduled validations start (run-now still does); a running validation finishes.
obj.spec.suspend = true
return obj
