# lazydit build. Sources are picked up by directory so that a new file needs no
# Makefile edit: library code in model/ (and its subfolders) analysis/ experiments/,
# the CLI in cli/,
# one test binary per tests/test_*.c, one benchmark per bench/*.c.
CC      ?= cc
BUILD   ?= build
BLAS_INC := $(shell pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)
CFLAGS  ?= -O2 -g
# -Wno-psabi: the SIMD helpers (model/simd.h) pass GCC vector types between
# always-inlined static functions; GCC's note that such a call would change
# the calling convention without AVX cannot apply to them.
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wno-psabi -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. -I$(BUILD)/gen $(BLAS_INC) $(SAN)
LDLIBS  := -lopenblas -lsqlite3 -lcjson -lpng -lz -lm -lpthread
LDFLAGS += $(SAN)

LIB_SRC   := $(wildcard model/*.c model/*/*.c analysis/*.c experiments/*.c)
CLI_SRC   := $(wildcard cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)
# libFuzzer targets: tests/fuzz/fuzz_<target>.c, corpora in tests/fuzz/<target>/.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Each fuzz target is also linked with a plain driver that replays its corpus
# (tests/test_fuzz_corpus.sh), so reproducers run in every build, asan included.
REPLAYS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZERS := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)

.PHONY: all test bench demo check-models clean asan lib fuzz fuzzers
all: $(BUILD)/lazydit $(TESTS) $(BENCHES) $(REPLAYS)

$(BUILD)/liblazydit.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The result-database schema is compiled in from analysis/schema.sql (one C
# string literal per line), so the binary and the documented schema never differ.
$(BUILD)/gen/schema_sql.h: analysis/schema.sql
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/analysis/result_db.o: $(BUILD)/gen/schema_sql.h
# The paper's Tables 4 and 5 are compiled in from analysis/reference/
# lazydit_paper_tables.csv (one C string literal per line), so a report does not
# depend on the working directory.
$(BUILD)/gen/paper_tables_csv.h: analysis/reference/lazydit_paper_tables.csv
	@mkdir -p $(dir $@)
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/analysis/report_paper.o: $(BUILD)/gen/paper_tables_csv.h

$(BUILD)/lazydit: $(CLI_OBJ) $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay_main.o $(BUILD)/cli/args.o $(BUILD)/cli/cli_common.o $(BUILD)/liblazydit.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# `make fuzz`: every target built with clang and libFuzzer, ASan and UBSan into
# build-fuzz/fuzz/fuzz_<target> (run one: build-fuzz/fuzz/fuzz_npy tests/fuzz/npy).
FUZZ_CC ?= clang-14
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz:
	CFLAGS="-O1 -g" $(MAKE) BUILD=build-fuzz CC=$(FUZZ_CC) SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	    FUZZ_LINK="$(FUZZ_SAN) -fsanitize=fuzzer" fuzzers

fuzzers: $(FUZZERS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/cli/args.o $(BUILD)/cli/cli_common.o $(BUILD)/liblazydit.a
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_LINK) $^ -o $@ $(LDLIBS)

test: all
	BUILD=$(BUILD) bash tests/run.sh

bench: all
	BUILD=$(BUILD) bash bench/run.sh

demo: all
	BUILD=$(BUILD) bash experiments/demo.sh

# The committed classifier and DiT against their quality bars (README; exit 1 if one misses).
check-models: all
	BUILD=$(BUILD) bash experiments/check_models.sh

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its
# own build directory so the two builds never mix objects.
asan:
	CFLAGS="-O1 -g" $(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d) $(wildcard $(BUILD)/tests/fuzz/*.d)
