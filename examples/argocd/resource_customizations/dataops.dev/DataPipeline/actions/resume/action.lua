-- Resume: scheduled runs start again (a Streaming pipeline's job is started again).
obj.spec.suspend = false
return obj
