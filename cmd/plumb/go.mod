module github.com/goplumb/plumb/cmd/plumb

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
	github.com/redis/go-redis/v9 v9.7.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/cespare/xxhash/v2 v2.2.0 // indirect
	github.com/dgryski/go-rendezvous v0.0.0-20200823014737-9f7001d12a5f // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/robfig/cron/v3 v3.0.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
