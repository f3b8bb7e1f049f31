package streamq

import (
	"fmt"
	"strconv"
	"strings"
)

// A retry envelope carries a failed message to its group's retry zset and
// retry stream: "<attempts so far>|<original stream ID>|<payload>". The
// payload is last and may contain any byte.

func encodeEnvelope(attempts int, origID, payload string) string {
	return strconv.Itoa(attempts) + "|" + origID + "|" + payload
}

// decodeEnvelope parses an envelope. It never panics on any input.
func decodeEnvelope(s string) (attempts int, origID, payload string, err error) {
	a, rest, ok := strings.Cut(s, "|")
	if !ok {
		return 0, "", "", fmt.Errorf("%w: retry envelope without attempt count", ErrDecode)
	}
	n, err := strconv.Atoi(a)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, "", "", fmt.Errorf("%w: retry envelope attempt count %q", ErrDecode, a)
	}
	id, payload, ok := strings.Cut(rest, "|")
	if !ok || !validStreamID(id) {
		return 0, "", "", fmt.Errorf("%w: retry envelope stream ID %q", ErrDecode, id)
	}
	return n, id, payload, nil
}

// validStreamID reports whether s looks like "<ms>-<seq>".
func validStreamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	if _, err := strconv.ParseUint(ms, 10, 64); err != nil {
		return false
	}
	_, err := strconv.ParseUint(seq, 10, 64)
	return err == nil
}

// delayedMember prefixes a payload with a 16-hex-digit unique token and "|",
// so identical payloads scheduled together stay distinct zset members. The
// tick script strips the first 17 bytes.
func delayedMember(token uint64, payload string) string {
	return fmt.Sprintf("%016x|", token) + payload
}
