-- Resume: scheduled validations start again.
obj.spec.suspend = false
return obj
