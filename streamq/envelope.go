package streamq

import (
	"fmt"
	"strconv"
	"strings"
)

// A retry envelope carries a failed message to its group's retry zset and
// retry stream: "<attempts so far>|<original stream ID>|<payload>", or with
// metadata (headers, deadline) "<attempts>h<meta length>|<original stream
// ID>|<meta><payload>". The payload is last and may contain any byte.

func encodeEnvelope(attempts int, origID, meta, payload string) string {
	if meta == "" {
		return strconv.Itoa(attempts) + "|" + origID + "|" + payload
	}
	return strconv.Itoa(attempts) + "h" + strconv.Itoa(len(meta)) + "|" + origID + "|" + meta + payload
}

// decodeEnvelope parses an envelope. It never panics on any input.
func decodeEnvelope(s string) (attempts int, origID, meta, payload string, err error) {
	a, rest, ok := strings.Cut(s, "|")
	if !ok {
		return 0, "", "", "", fmt.Errorf("%w: retry envelope without attempt count", ErrDecode)
	}
	a, ml, hasMeta := strings.Cut(a, "h")
	n, err := strconv.Atoi(a)
	if err != nil || n < 0 || n > 1<<30 {
		return 0, "", "", "", fmt.Errorf("%w: retry envelope attempt count %q", ErrDecode, a)
	}
	id, payload, ok := strings.Cut(rest, "|")
	if !ok || !validStreamID(id) {
		return 0, "", "", "", fmt.Errorf("%w: retry envelope stream ID %q", ErrDecode, id)
	}
	if hasMeta {
		m, err := strconv.Atoi(ml)
		if err != nil || m < 0 || m > len(payload) {
			return 0, "", "", "", fmt.Errorf("%w: retry envelope header length %q", ErrDecode, ml)
		}
		meta, payload = payload[:m], payload[m:]
	}
	return n, id, meta, payload, nil
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
// tick script strips the first 17 bytes. With metadata the token is
// followed by "#", the metadata's length in 8 hex digits, the metadata and
// the payload.
func delayedMember(token uint64, meta, payload string) string {
	if meta == "" {
		return fmt.Sprintf("%016x|", token) + payload
	}
	return fmt.Sprintf("%016x#%08x", token, len(meta)) + meta + payload
}
