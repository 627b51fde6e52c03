# Thin driver around CMake. `make demo` and `make test` are the README's quick start.
BUILD ?= build
PRESET ?= dev
DEPS := cmake gcc make pkg-config libsqlite3-dev sqlite3 libprotobuf-c-dev protobuf-c-compiler \
	mosquitto openssl python3-paho-mqtt python3-protobuf protobuf-compiler \
	libmosquitto-dev libmbedtls-dev libinih-dev libcjson-dev libcmocka-dev python3
WERROR ?= OFF
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build test asan demo bench clean format format-check

all: build

deps:
	@DEPS="$(DEPS)" sh tests/install-deps.sh

build: deps
	cmake --preset $(PRESET) -B $(BUILD) -DWHAGENT_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@if command -v clang-format >/dev/null; then $(MAKE) --no-print-directory format-check; fi
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	cmake --preset asan -DWHAGENT_WERROR=$(WERROR) >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)

demo: build
	sh tests/demo.sh $(BUILD)/whagent

bench: build
	sh tests/bench/bench_spool.sh $(BUILD)
	sh tests/bench/bench_uplink.sh $(BUILD)

format:
	clang-format -i agent/*.[ch] platform/*.h platform/*/*.c tests/unit/*.[ch] tests/bench/*.c

format-check:
	clang-format --dry-run --Werror agent/*.[ch] platform/*.h platform/*/*.c tests/unit/*.[ch] tests/bench/*.c

clean:
	rm -rf $(BUILD)
