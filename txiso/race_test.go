//go:build race

package txiso_test

// raceEnabled is true when the tests run with -race, which makes the
// contention workload about 10x slower; see contentionSize.
const raceEnabled = true
