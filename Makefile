# Two commands for a fresh machine: `make demo` and `make test`. Both install
# the servers they need (.ci/deps) and start them as child processes.

GO            ?= go
# The oldest Go we support: the go.mod line. Downloaded through the module proxy.
GO_MIN        ?= go1.25.14
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME      ?= 4s
BENCHCOUNT    ?= 5

.PHONY: test demo bench deps check vet staticcheck race test-min fuzz

## test: the whole suite, as CI runs it
test: deps check vet staticcheck fuzz race test-min

## demo: run every example against servers the tour starts
demo: deps
	$(GO) run ./examples/tour

deps:
	@./.ci/deps

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

vet:
	$(GO) vet ./...

# Pinned, run through the module proxy, never added to go.mod.
staticcheck:
	$(GO) run $(STATICCHECK) ./...

race:
	$(GO) test -race -count=1 ./...

# Proves the go.mod line: the same suite on the oldest supported toolchain.
test-min:
	GOTOOLCHAIN=$(GO_MIN) $(GO) test -count=1 ./...

# A few seconds of every Fuzz target (one target per `go test -fuzz` run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/plumb-fuzz.log 2>&1 \
	      || { cat /tmp/plumb-fuzz.log; exit 1; }; \
	  done; \
	done

## bench: every benchmark, count 5, summarised with ratios in BENCHMARKS.md
bench: deps
	$(GO) test -run '^$$' -bench . -benchmem -count=$(BENCHCOUNT) -timeout 60m ./... | tee bench.out
	$(GO) run .ci/benchreport/main.go < bench.out > BENCHMARKS.md
	@echo "wrote BENCHMARKS.md"
