# gatewayd build, test and packaging.
#
#   make build     gatewayd and gatewayctl for this machine, into bin/
#   make test      the whole test suite with the race detector
#   make cross     static, version-stamped gatewayd and gatewayctl for every Pi,
#                  into bin/ (gatewayctl-linux-* beside each of these):
#                    gatewayd-linux-arm64  Pi 3/4/5, Zero 2 W on a 64-bit OS
#                    gatewayd-linux-armv6  Pi 1, Zero/Zero W (and any Pi) on a 32-bit OS
#                    gatewayd-linux-armv7  Pi 2/3/4 on a 32-bit OS
#   make deb       Debian packages for arm64 and armhf (the armv6 build), into bin/
#   make pi-test   the emulated Raspberry Pi 3 test: real kernel GPIO lines under qemu,
#                  on any Debian/Ubuntu PC (see deploy/pitest)
#   make lint      gofmt, go vet, no tracked binary or file over 1 MiB,
#                  staticcheck, shellcheck
#
# One version for everything: `gatewayd -version`, `gatewayctl -version` and
# the packages all carry the string deploy/version.sh prints (1.2.3 on a tag,
# 0.0.0+57+git3442247 before the first one). A VERSION given on the command
# line goes through the same script, so v1.2.0 and 1.2.0 give the same build:
#   make deb VERSION=v1.2.0
# COMMIT comes from git. SOURCE_DATE_EPOCH (the last commit's time unless
# given) dates every file in the packages, so two builds of one commit are
# byte for byte the same.
override VERSION := $(shell deploy/version.sh '$(VERSION)')
ifeq ($(VERSION),)
$(error deploy/version.sh failed: see its message above)
endif
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH

GO      ?= go
BIN     := bin
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Static (no cgo), no local paths in the binary.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

CROSS := $(foreach c,gatewayd gatewayctl,$(foreach a,arm64 armv6 armv7,$(BIN)/$(c)-linux-$(a)))

.PHONY: all build test cross deb pi-test lint clean \
	$(BIN)/gatewayd $(BIN)/gatewayctl $(CROSS)

all: build

build: $(BIN)/gatewayd $(BIN)/gatewayctl

# Phony on purpose: go build knows what is stale, make does not.
$(BIN)/gatewayd $(BIN)/gatewayctl:
	$(GOBUILD) -o $@ ./cmd/$(notdir $@)

test:
	$(GO) test -race ./...

cross: $(CROSS)

# bin/COMMAND-linux-ARCH: the command's name, then the Pi's architecture.
goarch = GOOS=linux $(if $(filter arm64,$(1)),GOARCH=arm64,GOARCH=arm GOARM=$(subst armv,,$(1)))
$(CROSS):
	$(call goarch,$(lastword $(subst -, ,$(notdir $@)))) $(GOBUILD) -o $@ ./cmd/$(firstword $(subst -, ,$(notdir $@)))

# armhf is Raspberry Pi OS's 32-bit port, which targets ARMv6: the armv6
# build runs on every Pi, the armv7 one would crash a Pi 1 or Zero.
deb: $(BIN)/gatewayd-linux-arm64 $(BIN)/gatewayctl-linux-arm64 $(BIN)/gatewayd-linux-armv6 $(BIN)/gatewayctl-linux-armv6
	deploy/build-deb.sh arm64 $(VERSION) $(BIN) $(BIN)/gatewayd-linux-arm64 $(BIN)/gatewayctl-linux-arm64
	deploy/build-deb.sh armhf $(VERSION) $(BIN) $(BIN)/gatewayd-linux-armv6 $(BIN)/gatewayctl-linux-armv6

pi-test:
	GATEWAYD_PI_TEST=1 $(GO) test -v -count=1 -timeout 15m -run TestPi ./deploy/pitest/

lint:
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	deploy/check-tracked.sh
	$(GO) run $(STATICCHECK) ./...
	@if command -v shellcheck >/dev/null; then \
		shellcheck deploy/*.sh deploy/testdata/*.sh deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm; \
	else echo "shellcheck not installed (deploy/install-deps.sh): shell scripts not linted"; fi

clean:
	rm -rf $(BIN)
