//go:build race

package streamq

// raceEnabled is true under -race; the long reliability runs use smaller
// sizes then (the race detector slows them ~10x).
const raceEnabled = true
