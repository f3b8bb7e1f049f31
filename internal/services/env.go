package services

import (
	"context"
	"fmt"
	"os"
)

// RedisURL returns PLUMB_REDIS_URL when it is set; otherwise it starts a
// redis-server (stopped by CloseAll) and returns its redis:// URL for DB 0.
// started reports which. The examples and the tour use it, so each example
// also runs on its own with `go run ./examples/NAME`.
func RedisURL(ctx context.Context) (url string, started bool, err error) {
	if u := os.Getenv("PLUMB_REDIS_URL"); u != "" {
		return u, false, nil
	}
	// The configuration streamq and redislock document as durable: an
	// acknowledged write survives a restart (and they do not warn about it).
	r, err := StartRedis(ctx, "--appendonly", "yes", "--appendfsync", "everysec")
	if err != nil {
		return "", false, fmt.Errorf("PLUMB_REDIS_URL is not set and no redis-server could be started: %w", err)
	}
	return r.URL(0), true, nil
}

// PostgresURL returns PLUMB_DATABASE_URL when it is set; otherwise it starts
// a PostgreSQL cluster (stopped by CloseAll) and returns the postgres:// URL
// of its "postgres" database, whose role may create databases. started
// reports which.
func PostgresURL(ctx context.Context) (url string, started bool, err error) {
	if u := os.Getenv("PLUMB_DATABASE_URL"); u != "" {
		return u, false, nil
	}
	pg, err := StartPostgres(ctx)
	if err != nil {
		return "", false, fmt.Errorf("PLUMB_DATABASE_URL is not set and no PostgreSQL could be started: %w", err)
	}
	return pg.DSN("postgres"), true, nil
}
