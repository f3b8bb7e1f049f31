// Package compare holds benchmarks of streamq against its anchors (raw
// go-redis and asynq) in the same run. It is a module of its own so that
// asynq and everything it requires (robfig/cron, protobuf, ...) never enter
// the module graph of a streamq user:
//
//	cd streamq/internal/compare && GOWORK=off go test -run '^$' -bench . -benchtime 20000x
package compare
