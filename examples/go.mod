module github.com/goplumb/plumb/examples

go 1.25

require (
	github.com/goplumb/plumb v0.1.0
	github.com/goplumb/plumb/apisixclient v0.1.0
	github.com/goplumb/plumb/cronx v0.1.0
	github.com/goplumb/plumb/mirror v0.1.0
	github.com/goplumb/plumb/streamq v0.1.0
	github.com/goplumb/plumb/txiso v0.1.0
	github.com/goplumb/plumb/tzutil v0.1.0
	github.com/lib/pq v1.10.9
	github.com/redis/go-redis/v9 v9.20.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	go.uber.org/atomic v1.11.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)

replace github.com/goplumb/plumb => ..

replace github.com/goplumb/plumb/streamq => ../streamq

replace github.com/goplumb/plumb/txiso => ../txiso

replace github.com/goplumb/plumb/cronx => ../cronx

replace github.com/goplumb/plumb/cronx/asynqx => ../cronx/asynqx

replace github.com/goplumb/plumb/tzutil => ../tzutil

replace github.com/goplumb/plumb/tzutil/pgtz => ../tzutil/pgtz

replace github.com/goplumb/plumb/mirror => ../mirror

replace github.com/goplumb/plumb/apisixclient => ../apisixclient
