# keeper's build, test and benchmark entry points.
GO      ?= go
BIN     ?= bin/keeper
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-short lint bench bench-detach bench-supervise bench-sessions bench-screen bench-web fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/keeper
	@# The session master alone, which keeper dtach starts from beside $(BIN).
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(dir $(BIN))keeper-master ./cmd/keeper-master
	@# keeper invoked as dtach is dtach: the example config puts this first in PATH.
	@mkdir -p bin/path && ln -sf ../keeper bin/path/dtach

# run builds keeper and supervises the example config in the foreground.
run: build
	$(BIN) daemon -n -c examples/keeper.conf

# test runs every test. A test whose peer (Debian's dtach, supervisor, tmux,
# ...) is missing skips and logs why to KEEPER_TEST_SKIPLOG (see
# internal/peer); the skips are summed up at the end. go test's status is
# make test's.
test:
	@skiplog=$$(mktemp); \
	KEEPER_TEST_SKIPLOG=$$skiplog $(GO) test -race -timeout 15m ./...; status=$$?; \
	sort $$skiplog | uniq -c | sort -rn | awk '{n = $$1; $$1 = ""; print "make test: " n (n == 1 ? " test" : " tests") " skipped:" $$0}'; \
	if [ -s $$skiplog ]; then echo "make test: sudo bash .ci/run installs them and runs every test"; fi; \
	rm -f $$skiplog; exit $$status

test-short:
	$(GO) test -short ./...

# lint fails on unformatted files, go vet, an untidy go.mod and staticcheck
# (at a pinned version; its checks are in staticcheck.conf).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(GO) run $(STATICCHECK) ./...

# fuzz runs every fuzz target (go test -list finds them) for FUZZTIME each;
# the parsers of what other users control come first among them (session
# records, /proc/net/unix and /proc/PID/stat, configs, XML-RPC, packets).
FUZZTIME ?= 10s

fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz: $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench: bench-detach bench-supervise bench-sessions bench-screen bench-web

bench-detach: build
	scripts/bench-detach.sh

bench-supervise: build
	scripts/bench-supervise.sh

# bench-screen: parse speed of the screen emulator, master memory with it,
# and bench-detach's figures with it on.
bench-screen: build
	scripts/bench-screen.sh

bench-sessions: build
	scripts/bench-sessions.sh

# bench-web: a session in the page, in chromium: keystroke to echo painted,
# and the daemon's CPU with 10 pages open on idle sessions.
bench-web: build
	KEEPER_BENCH_WEB=1 $(GO) test -count=1 -run '^TestBenchWebAttach$$' -v ./cmd/keeper/ | grep -v -e '^=== ' -e '^--- ' -e '^PASS' -e '^ok '

clean:
	rm -rf bin

# install puts keeper in $(DESTDIR)$(BINDIR), with its init script and its
# /etc/default file, the systemd unit, and /etc/keeper/keeper.conf (from
# scripts/keeper.conf) unless one is there already; the installed files name
# $(BINDIR)/keeper. install-dtach adds the opt-in dtach symlink: keeper run
# as dtach is dtach, first in PATH before Debian's /usr/bin/dtach.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install
INSTALL_SED = sed -e 's|/usr/local/bin/keeper|$(BINDIR)/keeper|g' -e 's|/etc/keeper/|$(SYSCONFDIR)/keeper/|g' -e 's|/etc/default/|$(SYSCONFDIR)/default/|g'

.PHONY: install install-dtach

install: build
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/keeper/conf.d $(DESTDIR)$(SYSCONFDIR)/init.d \
		$(DESTDIR)$(SYSCONFDIR)/default $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/keeper
	$(INSTALL) -m 0755 $(dir $(BIN))keeper-master $(DESTDIR)$(BINDIR)/keeper-master
	$(INSTALL_SED) scripts/init.d/keeper > $(DESTDIR)$(SYSCONFDIR)/init.d/keeper
	chmod 0755 $(DESTDIR)$(SYSCONFDIR)/init.d/keeper
	$(INSTALL_SED) scripts/systemd/keeper.service > $(DESTDIR)$(UNITDIR)/keeper.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/keeper.service
	@# The admin's files are kept.
	@for f in keeper/keeper.conf:scripts/keeper.conf default/keeper:scripts/default/keeper; do \
		dst=$(DESTDIR)$(SYSCONFDIR)/$${f%%:*}; src=$${f#*:}; \
		if [ -e "$$dst" ]; then echo "keeping $$dst"; \
		else echo "$(INSTALL_SED) $$src > $$dst"; $(INSTALL_SED) $$src > "$$dst" && chmod 0644 "$$dst" || exit 1; fi; \
	done

install-dtach: install
	ln -sf keeper $(DESTDIR)$(BINDIR)/dtach
