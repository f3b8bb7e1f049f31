package txiso_test

import (
	"context"
	"testing"
	"time"

	"github.com/goplumb/plumb/txiso"
)

func TestMatrixLive(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db, _ := pgDB(t, d)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			start := time.Now()
			m, err := txiso.Matrix(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s in %v\n%s", d, time.Since(start), m)
			for _, c := range m.Mismatches() {
				t.Errorf("%s at %s: err %v", c.Case, c.Level, c.Err)
				for _, s := range c.Steps {
					if s.Mismatch {
						t.Errorf("  step %d %s %q: got %q, want %q", s.N, s.Session, s.SQL, s.Got, s.Want)
					}
				}
			}
		})
	}
}
