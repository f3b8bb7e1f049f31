package streamq

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Option is a per-message setting of Add, AddBatch, AddUnique, ProcessAt
// and ProcessIn: Header, Headers, Deadline and Timeout. An invalid Option
// fails the call with an error wrapping ErrInvalid before any I/O. The zero
// Option does nothing.
type Option struct {
	headers  map[string]string
	deadline time.Time
	timeout  time.Duration
	kind     uint8
	err      error
}

const (
	optHeaders = iota + 1
	optDeadline
	optTimeout
)

// Header sets one string header on the message (see Headers).
func Header(key, value string) Option { return Headers(map[string]string{key: value}) }

// Headers sets string metadata on the message, as HTTP headers do:
// Msg.Headers has them in every delivery, retries included; dead letters
// keep them, and RequeueDeadLetters too. Keys must be non-empty, at most
// 200 bytes, and must not start with ':' (reserved). Several Header and
// Headers options merge, later ones winning. Headers count towards
// Config.MaxPayloadBytes. The map is copied.
func Headers(h map[string]string) Option {
	o := Option{kind: optHeaders, headers: make(map[string]string, len(h))}
	for k, v := range h {
		if k == "" || len(k) > maxNameLen || k[0] == ':' {
			o.err = fmt.Errorf("%w: header key %q must be 1-%d bytes and not start with ':'", ErrInvalid, k, maxNameLen)
			return o
		}
		o.headers[k] = v
	}
	return o
}

// Deadline is the time by which the message must be handled (asynq's
// Deadline, "process by"): a delivery that starts later is not handled but
// dead-lettered with the reason "deadline", and the handler's context ends
// at t. It holds across retries.
func Deadline(t time.Time) Option {
	o := Option{kind: optDeadline, deadline: t}
	if t.IsZero() {
		o.err = fmt.Errorf("%w: Deadline with the zero time", ErrInvalid)
	}
	return o
}

// Timeout bounds each handler call of the message through its context
// (instead of ConsumerConfig.HandlerTimeout). d must be positive.
func Timeout(d time.Duration) Option {
	o := Option{kind: optTimeout, timeout: d}
	if d <= 0 {
		o.err = fmt.Errorf("%w: Timeout %v must be positive", ErrInvalid, d)
	}
	return o
}

// meta is a message's metadata: user headers plus streamq's own reserved
// ":deadline" (unix ms) and ":timeout" (ms) entries.
type meta struct {
	headers  map[string]string
	deadline time.Time
	timeout  time.Duration
}

// metaOf merges opts; it returns the encoded form ("" for none).
func metaOf(opts []Option) (string, error) {
	if len(opts) == 0 {
		return "", nil
	}
	var m meta
	for _, o := range opts {
		if o.err != nil {
			return "", o.err
		}
		switch o.kind {
		case optHeaders:
			if m.headers == nil {
				m.headers = make(map[string]string, len(o.headers))
			}
			for k, v := range o.headers {
				m.headers[k] = v
			}
		case optDeadline:
			m.deadline = o.deadline
		case optTimeout:
			m.timeout = o.timeout
		}
	}
	return m.encode(), nil
}

// encode writes "<len>:<key><len>:<value>..." with sorted keys.
func (m meta) encode() string {
	n := len(m.headers)
	if !m.deadline.IsZero() {
		n++
	}
	if m.timeout > 0 {
		n++
	}
	if n == 0 {
		return ""
	}
	keys := make([]string, 0, len(m.headers))
	for k := range m.headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	put := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	if !m.deadline.IsZero() {
		put(":deadline")
		put(strconv.FormatInt(ceilMilli(m.deadline), 10))
	}
	if m.timeout > 0 {
		put(":timeout")
		put(strconv.FormatInt(max(m.timeout.Milliseconds(), 1), 10))
	}
	for _, k := range keys {
		put(k)
		put(m.headers[k])
	}
	return b.String()
}

// decodeMeta parses encode's output. It never panics on any input.
func decodeMeta(s string) (meta, error) {
	var m meta
	next := func() (string, bool) {
		i := strings.IndexByte(s, ':')
		if i <= 0 || i > 10 {
			return "", false
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 || n > len(s)-i-1 {
			return "", false
		}
		v := s[i+1 : i+1+n]
		s = s[i+1+n:]
		return v, true
	}
	for s != "" {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return meta{}, fmt.Errorf("%w: malformed headers", ErrDecode)
		}
		switch {
		case k == ":deadline":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return meta{}, fmt.Errorf("%w: deadline %q", ErrDecode, v)
			}
			m.deadline = time.UnixMilli(ms)
		case k == ":timeout":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 {
				return meta{}, fmt.Errorf("%w: timeout %q", ErrDecode, v)
			}
			m.timeout = time.Duration(ms) * time.Millisecond
		case strings.HasPrefix(k, ":"):
			// a reserved key of a newer version: ignore
		default:
			if m.headers == nil {
				m.headers = map[string]string{}
			}
			m.headers[k] = v
		}
	}
	return m, nil
}
