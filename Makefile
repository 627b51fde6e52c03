# Thin driver around CMake. `make demo` and `make test` are the README's quick start.
BUILD ?= build
PRESET ?= dev
DEPS := cmake gcc make pkg-config libsqlite3-dev sqlite3 libprotobuf-c-dev protobuf-c-compiler \
	mosquitto openssl python3-paho-mqtt python3-protobuf protobuf-compiler \
	libmosquitto-dev libssl-dev libmbedtls-dev libinih-dev libcjson-dev libcmocka-dev libmicrohttpd-dev \
	python3 curl python3-prometheus-client python3-cryptography prometheus chromium libfaketime \
	unixodbc-dev odbc-postgresql odbc-mariadb postgresql mariadb-server mariadb-client
WERROR ?= OFF
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps build test asan valgrind fuzz faults soak powercut demo bench clean format format-check arm64 armhf test-cross \
	package package-arm64 package-armhf

all: build

deps:
	@DEPS="$(DEPS)" sh tests/install-deps.sh

build: deps
	cmake --preset $(PRESET) -B $(BUILD) -DWHAGENT_WERROR=$(WERROR) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build
	@if command -v clang-format >/dev/null; then $(MAKE) --no-print-directory format-check; fi
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS_CI)
	@$(MAKE) --no-print-directory test-cross

FUZZ_SECONDS_CI ?= 15

# The fault harness: `make faults` is the smoke run (also in `make test`); `make soak SEED=...
# N=...` runs N faults of every kind (broker kill -9 included), in scenarios alternating between
# ack_mode = broker and platform (acks, replays, lanes), and prints the summary table.
N ?= 200
faults: build
	cd $(BUILD) && ctest --output-on-failure -L faults
soak: build
	/usr/bin/python3 tests/fault/harness.py --agent $(BUILD)/whagent --faults $(N) \
		$(if $(SEED),--seed $(SEED)) --ack-modes broker,platform \
		--kinds agent_kill9,agent_term,broker_term,broker_kill9,link_down,disk_full

# The power-cut campaign: `make test` runs integration_powercut (30 cuts with synchronous = full,
# 4 with normal); `make powercut SEED=... CUTS=300` runs a longer one.
CUTS ?= 300
powercut: build
	POWERCUT_LIB=$(BUILD)/tests/libwhpowercut.so CUTS=$(CUTS) NORMAL_CUTS=8 $(if $(SEED),SEED=$(SEED)) \
		/usr/bin/python3 tests/integration/powercut_test.py $(BUILD)/whagent

# ARM builds: cross-compiled with toolchains/, tests run under qemu-user.
CROSS_DEPS = crossbuild-essential-$(1) qemu-user libsqlite3-dev:$(1) libprotobuf-c-dev:$(1) \
	libmosquitto-dev:$(1) libssl-dev:$(1) libmbedtls-dev:$(1) libinih-dev:$(1) libcjson-dev:$(1) \
	libcmocka-dev:$(1) libmicrohttpd-dev:$(1) unixodbc-dev:$(1)

deps-arm64 deps-armhf: deps-%: deps
	@ARCH=$* DEPS="$(call CROSS_DEPS,$*)" sh tests/install-deps.sh

build-arm64 build-armhf: build-%: deps-%
	cmake --preset $* -DWHAGENT_WERROR=$(WERROR) >/dev/null
	cmake --build build-$* -j $(JOBS)
	@file build-$*/whagent

arm64 armhf: %: build-%
	cd build-$* && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# What `make test` runs of the ARM builds: arm64 unit and end-to-end tests under qemu-aarch64,
# armhf unit tests under qemu-arm. If apt cannot install an architecture's packages (the
# archive mid-sync), that architecture is reported as SKIPPED, loudly; build and test failures
# fail.
test-cross:
	@for a in arm64 armhf; do \
		if [ $$a = arm64 ]; then r='unit|e2e'; else r='unit'; fi; \
		if $(MAKE) --no-print-directory deps-$$a; then \
			$(MAKE) --no-print-directory $$a CTEST_ARGS="-L '$$r'" || exit 1; \
		else \
			echo "*** $$a: SKIPPED, its packages could not be installed (see apt above) ***"; \
		fi; \
	done

package: build
	cd $(BUILD) && cpack -B packages
	@ls $(BUILD)/packages/*.deb

package-arm64 package-armhf: package-%: build-%
	cd build-$* && DEB_HOST_ARCH=$* cpack -B packages
	@ls build-$*/packages/*.deb

# valgrind memcheck over the unit tests and the end-to-end, CLI and HTTP integration tests.
valgrind: deps
	cmake --preset valgrind >/dev/null
	cmake --build build-valgrind -j $(JOBS)
	cd build-valgrind && ctest --output-on-failure -j $(JOBS) \
		-R '^(unit_.*|integration_(spool|uplink|cli|http))$$'

# The test suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	cmake --preset asan -DWHAGENT_WERROR=$(WERROR) >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -E '^(package|faults)$$'

# libFuzzer targets (clang), each run FUZZ_SECONDS from the seed corpus in tests/fuzz/corpus.
FUZZ_SECONDS ?= 30
FUZZERS = http_body http_sig csv conf protobuf
fuzz: deps
	@DEPS="clang libclang-rt-14-dev" sh tests/install-deps.sh
	cmake --preset fuzz >/dev/null
	cmake --build build-fuzz -j $(JOBS)
	@for f in $(FUZZERS); do \
		mkdir -p build-fuzz/corpus-$$f; \
		echo "== fuzz_$$f for $(FUZZ_SECONDS) s"; \
		build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			build-fuzz/corpus-$$f tests/fuzz/corpus/$$f 2>&1 | tail -3 || exit 1; \
	done

demo: build
	sh tests/demo.sh $(BUILD)/whagent

bench: build
	@DEPS="wrk valgrind" sh tests/install-deps.sh
	sh tests/bench/bench_spool.sh $(BUILD)
	sh tests/bench/bench_uplink.sh $(BUILD)
	sh tests/bench/bench_http.sh $(BUILD)
	sh tests/bench/bench_lanes.sh $(BUILD)
	sh tests/bench/bench_instr.sh $(BUILD)
	/usr/bin/python3 tests/bench/bench_timing.py $(BUILD)/whagent
	/usr/bin/python3 tests/bench/bench_page.py $(BUILD)/whagent
	/usr/bin/python3 tests/bench/bench_table.py $(BUILD)

format:
	clang-format -i agent/*.[ch] platform/*.h platform/*/*.c tests/unit/*.[ch] tests/bench/*.c tests/powercut/*.c

format-check:
	clang-format --dry-run --Werror agent/*.[ch] platform/*.h platform/*/*.c tests/unit/*.[ch] tests/bench/*.c tests/powercut/*.c

clean:
	rm -rf $(BUILD)
