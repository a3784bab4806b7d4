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
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wno-psabi -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. $(BLAS_INC) $(SAN)
LDLIBS  := -lopenblas -lsqlite3 -lcjson -lpng -lz -lm -lpthread
LDFLAGS += $(SAN)

LIB_SRC   := $(wildcard model/*.c model/*/*.c analysis/*.c experiments/*.c)
CLI_SRC   := $(wildcard cli/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/%.o)
TESTS   := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test bench demo check-models clean asan lib
all: $(BUILD)/lazydit $(TESTS) $(BENCHES)

$(BUILD)/liblazydit.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/lazydit: $(CLI_OBJ) $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/liblazydit.a
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

test: all
	BUILD=$(BUILD) bash tests/run.sh

bench: all
	BUILD=$(BUILD) bash bench/run.sh

demo: all
	BUILD=$(BUILD) bash experiments/demo.sh

# The committed classifier and DiT against the training issue's bars (exit 1 if one misses).
check-models: all
	BUILD=$(BUILD) bash experiments/check_models.sh

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its
# own build directory so the two builds never mix objects.
asan:
	CFLAGS="-O1 -g" $(MAKE) BUILD=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

clean:
	rm -rf build build-asan

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TESTS:=.d) $(BENCHES:=.d)
