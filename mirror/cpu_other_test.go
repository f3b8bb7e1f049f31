//go:build !unix

package mirror

import "time"

// processCPU is not measured on this platform; BenchmarkThroughput then
// reports wall throughput only.
func processCPU() time.Duration { return 0 }
