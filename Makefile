# Two commands for a fresh machine: `make demo` and `make test`. Both install
# the servers they need (.ci/deps) and start them as child processes.
#
# plumb is several modules (see README "Modules and versions"): one per
# package, so importing one never raises a user's pins for another. Each
# target runs in every module with GOWORK=off, so each module is built and
# tested with exactly the versions its own go.mod selects (the oldest we
# support); go.work is for development only. `test-latest` covers the other
# end: every dependency at its newest release.

GO            ?= go
# The oldest Go we support: the go.mod line. Downloaded through the module proxy.
GO_MIN        ?= go1.25.14
STATICCHECK   ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME      ?= 4s
BENCHCOUNT    ?= 5
# Every module of the workspace, from go.work's use block.
MODULES       := $(shell sed -n 's|^[[:space:]]*\(\.[^[:space:]]*\)$$|\1|p' go.work)
# Each module in its own shell: cd into it, workspace off. cmd/plumb is the
# exception: `go install .../cmd/plumb@latest` rules out replace directives in
# its go.mod, so it builds against its siblings through go.work here, and
# consumer-check proves that it installs from published versions.
EACH           = set -e; for m in $(MODULES); do echo "== $$m"; (cd $$m && if [ $$m = ./cmd/plumb ]; then export GOWORK=$(CURDIR)/go.work; else export GOWORK=off; fi &&

.PHONY: test demo bench deps check vet staticcheck race test-min test-latest fuzz consumer-check apidiff release loadcheck

## test: the whole suite, as CI runs it
test: deps check vet staticcheck fuzz race test-min test-latest consumer-check apidiff

## demo: run every example against servers the tour starts
demo: deps
	$(GO) run ./examples/tour

deps:
	@./.ci/deps

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@$(EACH) if [ $$m != ./cmd/plumb ]; then $(GO) mod tidy -diff; fi); done
	@./.ci/docrefs

vet:
	@$(EACH) $(GO) vet ./...); done

# Pinned, run through the module proxy, never added to go.mod.
staticcheck:
	@$(EACH) $(GO) run $(STATICCHECK) ./...); done

race:
	@$(EACH) $(GO) test -race -count=1 ./...); done

# Proves the go.mod line: the same suite on the oldest supported toolchain.
test-min:
	@$(EACH) GOTOOLCHAIN=$(GO_MIN) $(GO) test -count=1 ./...); done

# The other end of the supported range: every dependency at its newest release.
test-latest:
	@./.ci/test-latest

# Importing one package must not raise a user's pins.
consumer-check:
	@./.ci/consumer-check

# A few seconds of every Fuzz target (one target per `go test -fuzz` run).
fuzz:
	@$(EACH) for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg >/tmp/plumb-fuzz.log 2>&1 \
	      || { cat /tmp/plumb-fuzz.log; exit 1; }; \
	  done; \
	done); done

## bench: every benchmark, count 5, summarised with ratios in BENCHMARKS.md
bench: deps
	@rm -f bench.out; $(EACH) $(GO) test -run '^$$' -bench . -benchmem -count=$(BENCHCOUNT) -timeout 60m ./... | tee -a $(CURDIR)/bench.out); done
	BENCHCOUNT=$(BENCHCOUNT) $(GO) run .ci/benchreport/main.go < bench.out > BENCHMARKS.md
	@echo "wrote BENCHMARKS.md"

## release: every gate, then one tag per module (make release VERSION=v0.1.0)
release:
	@./.ci/release "$(VERSION)"

# Incompatible API changes since the previous release must be declared in CHANGELOG.md.
apidiff:
	@./.ci/apidiff

## loadcheck: make test three times in a row with every core busy (yes loops)
loadcheck:
	@./.ci/loadcheck 3
