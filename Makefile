# gatewayd build, test and packaging.
#
#   make build     gatewayd and gatewayctl for this machine, into bin/
#   make test      the whole test suite with the race detector
#   make cross     static, version-stamped daemons for every Pi, into bin/:
#                    gatewayd-linux-arm64  Pi 3/4/5, Zero 2 W on a 64-bit OS
#                    gatewayd-linux-armv6  Pi 1, Zero/Zero W (and any Pi) on a 32-bit OS
#                    gatewayd-linux-armv7  Pi 2/3/4 on a 32-bit OS
#   make deb       Debian packages for arm64 and armhf (the armv6 build), into bin/
#   make pi-test   the emulated Raspberry Pi 3 test: real kernel GPIO lines under qemu,
#                  on any Debian/Ubuntu PC (see deploy/pitest)
#   make lint      gofmt, go vet, staticcheck, shellcheck
#
# VERSION and COMMIT come from git and can be overridden:
#   make deb VERSION=1.2.0

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
# Package versions must sort in build order for apt to upgrade: before the
# first tag a bare commit hash would not, so the commit count goes first
# (0.0.0-57-g3442247 becomes Debian version 0.0.0+57+git3442247). A VERSION
# given on the command line is used as it is.
ifeq ($(origin VERSION),command line)
DEB_VERSION ?= $(VERSION)
else
DEB_VERSION ?= $(shell git describe --tags --dirty 2>/dev/null || \
	echo "0.0.0-$$(git rev-list --count HEAD 2>/dev/null || echo 0)-g$$(git describe --always --dirty 2>/dev/null || echo unknown)")
endif

GO      ?= go
BIN     := bin
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Static (no cgo), no local paths in the binary.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build test cross deb pi-test lint clean \
	$(BIN)/gatewayd $(BIN)/gatewayctl \
	$(BIN)/gatewayd-linux-arm64 $(BIN)/gatewayd-linux-armv6 $(BIN)/gatewayd-linux-armv7

all: build

build: $(BIN)/gatewayd $(BIN)/gatewayctl

# Phony on purpose: go build knows what is stale, make does not.
$(BIN)/gatewayd $(BIN)/gatewayctl:
	$(GOBUILD) -o $@ ./cmd/$(notdir $@)

test:
	$(GO) test -race ./...

cross: $(BIN)/gatewayd-linux-arm64 $(BIN)/gatewayd-linux-armv6 $(BIN)/gatewayd-linux-armv7

$(BIN)/gatewayd-linux-arm64:
	GOOS=linux GOARCH=arm64 $(GOBUILD) -o $@ ./cmd/gatewayd

$(BIN)/gatewayd-linux-armv6:
	GOOS=linux GOARCH=arm GOARM=6 $(GOBUILD) -o $@ ./cmd/gatewayd

$(BIN)/gatewayd-linux-armv7:
	GOOS=linux GOARCH=arm GOARM=7 $(GOBUILD) -o $@ ./cmd/gatewayd

# armhf is Raspberry Pi OS's 32-bit port, which targets ARMv6: the armv6
# build runs on every Pi, the armv7 one would crash a Pi 1 or Zero.
deb: $(BIN)/gatewayd-linux-arm64 $(BIN)/gatewayd-linux-armv6
	deploy/build-deb.sh arm64 $(DEB_VERSION) $(BIN) $(BIN)/gatewayd-linux-arm64
	deploy/build-deb.sh armhf $(DEB_VERSION) $(BIN) $(BIN)/gatewayd-linux-armv6

pi-test:
	GATEWAYD_PI_TEST=1 $(GO) test -v -count=1 -timeout 15m -run TestPi ./deploy/pitest/

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then \
		shellcheck deploy/*.sh deploy/testdata/*.sh deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm; \
	else echo "shellcheck not installed (deploy/install-deps.sh): shell scripts not linted"; fi

clean:
	rm -rf $(BIN)
