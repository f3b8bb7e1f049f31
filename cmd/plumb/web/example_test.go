package web_test

import (
	"log"
	"net/http"

	"github.com/goplumb/plumb/cmd/plumb/web"
	"github.com/redis/go-redis/v9"
)

// Mount the queue dashboard under /ops/queues/ of your own server, behind
// your own authentication (requireAdmin here).
func ExampleNew() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	h, err := web.New(rdb, web.Config{AllowWrites: true})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ops/queues/", requireAdmin(http.StripPrefix("/ops/queues", h)))
	_ = mux // http.ListenAndServe(":8080", mux)
}

func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pass, ok := r.BasicAuth(); !ok || pass != "change me" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
