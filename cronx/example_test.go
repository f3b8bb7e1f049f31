package cronx_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goplumb/plumb/cronx"
)

// Parse and list activations: the DST policy runs a wall time skipped by
// spring-forward once, right after the gap.
func ExampleValidate() {
	ny, _ := time.LoadLocation("America/New_York")
	from := time.Date(2024, 3, 9, 12, 0, 0, 0, ny)
	next, err := cronx.Validate("30 2 * * *", ny, from, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range next {
		fmt.Println(t.Format(time.RFC3339))
	}
	// Output:
	// 2024-03-10T03:00:00-04:00
	// 2024-03-11T02:30:00-04:00
	// 2024-03-12T02:30:00-04:00
}

// Specs that can never fire, and robfig/cron's panicking inputs, are
// errors.
func ExampleParse() {
	for _, spec := range []string{"0 0 30 2 *", "CRON_TZ=UTC", "CRON_TZ=Asia/Shanghai */10 * * * * *"} {
		_, err := cronx.Parse(spec, time.UTC)
		fmt.Println(errors.Is(err, cronx.ErrInvalidSpec))
	}
	// Output:
	// true
	// true
	// false
}

// A job gets its run info from the context; RunNow runs it through the same
// middleware.
func ExampleScheduler_RunNow() {
	s, err := cronx.New(cronx.Config{Replica: "replica-1"})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = s.Add("hello", "@hourly", func(ctx context.Context) error {
		ri, _ := cronx.InfoFrom(ctx)
		fmt.Println(ri.Job, ri.Trigger, ri.Attempt, ri.Replica)
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.RunNow(context.Background(), "hello"))
	fmt.Println(s.Shutdown(context.Background()))
	// Output:
	// hello manual 1 replica-1
	// <nil>
	// <nil>
}

// Middleware composes with Chain; the first is the outermost.
func ExampleChain() {
	tag := func(name string) cronx.Middleware {
		return func(next cronx.Func) cronx.Func {
			return func(ctx context.Context) error {
				fmt.Println("enter", name)
				defer fmt.Println("leave", name)
				return next(ctx)
			}
		}
	}
	f := cronx.Chain(tag("outer"), tag("inner"), cronx.Recover())(func(context.Context) error { panic("boom") })
	err := f(context.Background())
	var pe *cronx.PanicError
	fmt.Println(errors.As(err, &pe), pe.Value)
	// Output:
	// enter outer
	// enter inner
	// leave inner
	// leave outer
	// true boom
}

// Bad input is an error that says what to fix, never a panic.
func ExampleScheduler_Add() {
	s, _ := cronx.New(cronx.Config{})
	err := s.Add("report", "0 0 30 2 *", func(context.Context) error { return nil })
	fmt.Println(err)
	err = s.Add("report", "@daily", nil)
	fmt.Println(err)
	// Output:
	// job "report": cronx: invalid spec: "0 0 30 2 *" can never fire (no matching date within five years, e.g. February 30)
	// cronx: invalid input: job "report": nil func
}
