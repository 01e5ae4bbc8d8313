# llmmon. `make test` is the one command that installs what the tests need and runs them all.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/llmmon/llmmon/cmd.Version=$(VERSION)
FUZZTIME  ?= 30s

.PHONY: all build install test test-deps test-images test-unit test-integration fuzz lint update-golden demo demo-down demo-clean bench bench-addtarget bench-alerts bench-relay bench-remediation bench-report bench-fleet clean

all: build

build: ## static binary in ./bin/llmmon
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/llmmon .

install:
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' .

test-deps: ## Debian packages the tests use (skipped when present)
	@command -v docker >/dev/null || { echo "Docker Engine is required (apt-get install docker.io)"; exit 1; }
	@if ! [ -f /etc/ssl/certs/ca-certificates.crt ]; then apt-get update -qq && apt-get install -y -qq ca-certificates; fi
	@command -v gcc >/dev/null || { apt-get update -qq && apt-get install -y -qq gcc; }  # the e2e's stand-in nvidia-smi
	@[ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || { apt-get update -qq && apt-get install -y -qq fonts-droid-fallback; }  # the report's Chinese plots
	@command -v victoria-metrics >/dev/null || { apt-get update -qq && apt-get install -y -qq victoria-metrics; }  # the fleet e2e's long-term store

test-images: test-deps ## build the upstream binaries and local test images (cached)
	test/images/build.sh all

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test-unit:
	$(GO) test -short ./...

test-integration:
	$(GO) test ./...

fuzz:
	$(GO) test ./stack/spec -run '^$$' -fuzz FuzzLoad -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

test: test-images lint ## everything: unit, integration and e2e tests against real components, and the fuzzer
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) fuzz

update-golden:
	$(GO) test ./stack/render -update

demo: build test-images ## offline demo: local images, a simulated model server, the whole stack
	test/demo.sh up

demo-down: ## stop the demo, keeping its data (make demo-down VOLUMES=1 removes its volumes too)
	test/demo.sh down $(if $(VOLUMES),--volumes)

demo-clean: build ## remove the demo's containers, volumes, spec and data
	test/demo.sh clean

bench: build test-images ## up/status against docker-compose (about 2 minutes)
	$(GO) run ./bench/stack -llmmon bin/llmmon

bench-addtarget: build test-images ## add-target to first scrape against edit + restart
	$(GO) run ./bench/addtarget -llmmon bin/llmmon

bench-alerts: build test-images ## fault to notification against tutorial defaults (about 25 minutes)
	$(GO) run ./bench/alerts -llmmon bin/llmmon

bench-remediation: build test-images ## service death to healthy again: llmmon's auto-recovery against a 30 s restart loop (about 6 minutes)
	$(GO) run ./bench/remediation -llmmon bin/llmmon

bench-report: test-images ## the report's time and memory for 10 services over 7 and 30 days on the real Prometheus (about 5 minutes)
	cd bench/report && $(GO) run . -bin $(HOME)/.cache/llmmon-test/bin

bench-fleet: test-images ## a fleet host's remote_write (to Prometheus and VictoriaMetrics) against federation: samples/s, memory, CPU, lag (about 4 minutes)
	$(GO) run ./bench/fleet -fixtures $(CURDIR)/../shared/fixtures

bench-relay: build test-images ## relay throughput and a 500-alert storm against a direct bridge (about 1 minute)
	$(GO) run ./bench/relay -llmmon bin/llmmon

clean:
	rm -rf bin
