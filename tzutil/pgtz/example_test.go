package pgtz_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/goplumb/plumb/tzutil"
	"github.com/goplumb/plumb/tzutil/pgtz"
)

// Set the session zone on one connection (never on the pool), then read
// timestamptz values normalised to a zone of your choice.
func ExampleSetSessionTimeZone() {
	var db *sql.DB // opened with any driver, e.g. lib/pq
	ctx := context.Background()
	shanghai := tzutil.MustLoad("Asia/Shanghai")

	conn, err := db.Conn(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	if err := pgtz.SetSessionTimeZone(ctx, conn, shanghai); err != nil {
		fmt.Println(err)
		return
	}
	var created time.Time
	_ = conn.QueryRowContext(ctx, "SELECT now()").Scan(pgtz.ScanIn(&created, shanghai))
	fmt.Println(created.Location())
}

// A `timestamp without time zone` column holds civil time; convert it to
// an instant with an explicit zone and policy.
func ExampleLocalTimestamp() {
	var ts pgtz.LocalTimestamp
	_ = ts.Scan("2024-03-10 02:30:00") // what a driver hands over
	ny := tzutil.MustLoad("America/New_York")
	_, err := ts.In(ny, tzutil.Reject)
	fmt.Println(err)
	t, _ := ts.In(ny, tzutil.PostgreSQL) // what the server's cast would give
	fmt.Println(t)
	// Output:
	// tzutil: 2024-03-10T02:30:00 does not exist in America/New_York: clocks jumped from 02:00:00 to 03:00:00 at 2024-03-10T07:00:00Z (offset -05:00 to -04:00); use Earlier, Later or StartOfGap to pick an instant
	// 2024-03-10 03:30:00 -0400 EDT
}
