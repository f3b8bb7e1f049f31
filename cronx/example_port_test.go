package cronx_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/goplumb/plumb/cronx"
	"github.com/robfig/cron/v3"
)

// quiet silences the examples' schedulers (the default is slog.Default()).
var quiet = slog.New(slog.DiscardHandler)

// cleanup is a robfig cron.Job, as in robfig's c.AddJob("@hourly", cleanup{}).
type cleanup struct{ dir string }

func (c cleanup) Run() { fmt.Println("cleaning", c.dir) }

// Porting robfig's AddJob: the same cron.Job, with a name.
func ExampleScheduler_AddJob() {
	s, _ := cronx.New(cronx.Config{Logger: quiet})
	// robfig: c.AddJob("@hourly", cleanup{"/tmp"})
	if err := s.AddJob("cleanup", "@hourly", cleanup{"/tmp"}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.RunNow(context.Background(), "cleanup"))
	// Output:
	// cleaning /tmp
	// <nil>
}

// Porting robfig's cron.WithSeconds(): the default parser already takes an
// optional seconds field first, so "0 05 18 * * *" is 18:05:00 every day.
func ExampleValidate_seconds() {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	next, err := cronx.Validate("0 05 18 * * *", time.UTC, from, 2)
	fmt.Println(next, err)
	// Output:
	// [2025-01-01 18:05:00 +0000 UTC 2025-01-02 18:05:00 +0000 UTC] <nil>
}

// Porting robfig's cron.WithParser(cron.NewParser(...)): the same options
// give a cronx Parser for Config.Parser. Here seconds are mandatory.
func ExampleNewParser() {
	p, err := cronx.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, _ := cronx.New(cronx.Config{Parser: p, Location: time.UTC, Logger: quiet})
	fn := func(context.Context) error { return nil }
	fmt.Println(s.Add("five-fields", "*/5 * * * *", fn))
	fmt.Println(s.Add("six-fields", "30 */5 * * * *", fn))
	fmt.Println(s.Add("descriptor", "@daily", fn))
	// Output:
	// job "five-fields": cronx: invalid spec: "*/5 * * * *": expected exactly 6 fields, found 5: [*/5 * * * *]
	// <nil>
	// job "descriptor": cronx: invalid spec: "@daily": this parser does not accept descriptors (add cron.Descriptor to its options)
}

// Porting robfig's c.Schedule(schedule, job): any cron.Schedule works, here
// robfig's own constant delay; Entry.NextRuns shows what it will do.
func ExampleScheduler_AddSchedule() {
	s, _ := cronx.New(cronx.Config{Logger: quiet})
	err := s.AddSchedule("poll", cron.Every(90*time.Second), func(context.Context) error { return nil })
	fmt.Println(err)
	e, _ := s.Entry("poll")
	runs := e.NextRuns(3)
	fmt.Println(runs[1].Sub(runs[0]), runs[2].Sub(runs[1]))
	// Output:
	// <nil>
	// 1m30s 1m30s
}

// Porting robfig's dynamic AddFunc/Remove by EntryID: cronx jobs have
// unique names instead.
func ExampleScheduler_Remove() {
	s, _ := cronx.New(cronx.Config{Location: time.UTC, Logger: quiet})
	fn := func(context.Context) error { return nil }
	_ = s.Add("report", "0 6 * * *", fn) // robfig: id, _ := c.AddFunc("0 6 * * *", f)
	_ = s.Add("backup", "0 3 * * *", fn)
	fmt.Println(s.Add("report", "0 7 * * *", fn))
	_ = s.Remove("report") // robfig: c.Remove(id)
	for _, e := range s.Entries() {
		fmt.Println(e.Name, e.Spec)
	}
	// Output:
	// cronx: duplicate job name: "report" (use Replace to change it)
	// backup 0 3 * * *
}

// Porting robfig's cron.WithLocation and CRON_TZ=: Config.Location is the
// default zone (nil means time.Local, as in robfig), and a CRON_TZ= prefix
// overrides it per job.
func ExampleConfig_location() {
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, _ := cronx.Validate("0 9 * * *", shanghai, from, 1)                       // robfig: cron.New(cron.WithLocation(shanghai))
	b, _ := cronx.Validate("CRON_TZ=Europe/Berlin 0 9 * * *", shanghai, from, 1) // robfig: the same prefix
	fmt.Println(a[0].UTC(), b[0].UTC())
	// Output:
	// 2025-01-01 01:00:00 +0000 UTC 2025-01-01 08:00:00 +0000 UTC
}

// Porting robfig's job wrappers: cron.Recover is always on (a panic is a
// *cronx.PanicError, logged with its stack); SkipIfStillRunning is the
// default; DelayIfStillRunning is DelayIfRunning with a bound; plain robfig
// jobs overlap, which AllowOverlap restores.
func ExampleDelayIfRunning() {
	s, _ := cronx.New(cronx.Config{Logger: quiet})
	fn := func(context.Context) error { return nil }
	fmt.Println(s.Add("skip", "* * * * *", fn))                           // cron.SkipIfStillRunning
	fmt.Println(s.Add("delay", "* * * * *", fn, cronx.DelayIfRunning(3))) // cron.DelayIfStillRunning, at most 3 waiting
	fmt.Println(s.Add("overlap", "* * * * *", fn, cronx.AllowOverlap()))  // robfig's default
	fmt.Println(s.Add("panics", "@daily", func(context.Context) error { panic("boom") }))
	err := s.RunNow(context.Background(), "panics") // cron.Recover
	var pe *cronx.PanicError
	fmt.Println(errors.As(err, &pe), err)
	// Output:
	// <nil>
	// <nil>
	// <nil>
	// <nil>
	// true cronx: panic: boom
}

// Porting robfig's cron.WithLogger(cron.VerbosePrintfLogger(l)): a
// *slog.Logger at Debug level shows every run's start.
func ExampleConfig_logger() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "tick" || a.Key == "took" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	s, _ := cronx.New(cronx.Config{Logger: logger, Replica: "r1"})
	_ = s.Add("hello", "@hourly", func(context.Context) error { return nil })
	_ = s.RunNow(context.Background(), "hello")
	// Output:
	// level=DEBUG msg="cronx: run started" job=hello trigger=manual replica=r1 fence=0
	// level=INFO msg="cronx: run succeeded" job=hello trigger=manual replica=r1
}
