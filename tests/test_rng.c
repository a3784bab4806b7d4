// test_rng.c: model/base/torch_rng.c against torch's default CPU generator.
// Goldens come from tests/ref/gen_rng.py (torch 1.13, AVX2). Float results are
// compared as bit patterns: the expectation is exact equality (0 ulp), and the
// worst ulp distance is printed so a regression shows its size.
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "model/base/check.h"
#include "model/base/torch_rng.h"
#include "tests/golden_json.h"
#include "tests/test.h"

#define GOLDEN "tests/ref/golden/rng.json"

static int64_t worst_ulp_all = 0;
static long compared_all = 0;

// Compares `n` produced words (float bits or int64 values) with one golden
// result object {n, full} or {n, head, tail, sum, fnv1a}.
static void compare_result(const char *name, const cJSON *res, const float *f, const int64_t *iv, long n) {
    long want_n = (long)golden_num(GOLDEN, res, "n");
    if (!test_check(want_n == n, name, "element count differs from golden")) return;
    long mismatches = 0, first_bad = -1;
    int64_t worst = 0;
    const char *parts[2] = {"full", NULL};
    long offsets[2] = {0, 0};
    int nparts = 1;
    const cJSON *full = cJSON_GetObjectItemCaseSensitive(res, "full");
    if (!full) {
        parts[0] = "head";
        parts[1] = "tail";
        offsets[1] = n - 64;
        nparts = 2;
    }
    for (int p = 0; p < nparts; p++) {
        const cJSON *arr = golden_field(GOLDEN, res, parts[p]);
        long k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, arr) {
            long i = offsets[p] + k++;
            CHECK(i < n, "%s: golden part '%s' longer than the array", name, parts[p]);
            int bad;
            if (f) {
                uint32_t got;
                memcpy(&got, &f[i], 4);
                uint32_t want = (uint32_t)it->valuedouble;
                int64_t d = ulp32_bits(got, want);
                if (d > worst) worst = d;
                bad = got != want;
            } else {
                bad = iv[i] != (int64_t)it->valuedouble;
            }
            if (bad) {
                if (first_bad < 0) first_bad = i;
                mismatches++;
            }
            compared_all++;
        }
    }
    if (worst > worst_ulp_all) worst_ulp_all = worst;
    TEST_CHECK(mismatches == 0, name, "%ld mismatching elements (first at %ld, worst %" PRId64 " ulp)", mismatches,
               first_bad, worst);
    if (!full) {
        // The whole array: exact hash of the bytes, and the sum as a readable check.
        size_t bytes = (size_t)n * (f ? sizeof(float) : sizeof(int64_t));
        uint32_t h = fnv1a32(f ? (const unsigned char *)f : (const unsigned char *)iv, bytes);
        char hname[256];
        snprintf(hname, sizeof hname, "%s fnv1a", name);
        TEST_CHECK(h == (uint32_t)golden_num(GOLDEN, res, "fnv1a"), hname, "hash %08x want %08x", h, (uint32_t)golden_num(GOLDEN, res, "fnv1a"));
        double sum = 0;
        for (long i = 0; i < n; i++) sum += f ? (double)f[i] : (double)iv[i];
        double want = golden_num(GOLDEN, res, "sum");
        snprintf(hname, sizeof hname, "%s sum", name);
        TEST_CHECK(fabs(sum - want) <= 1e-9 * (1 + fabs(want)), hname, "sum %.17g want %.17g", sum, want);
    }
}

static void run_op(TorchRng *g, const cJSON *op, const char *name) {
    const char *kind = golden_field(GOLDEN, op, "op")->valuestring;
    long n = (long)golden_num(GOLDEN, op, "n");
    const cJSON *res = golden_field(GOLDEN, op, "result");
    if (strcmp(kind, "randn") == 0) {
        float *out = lz_malloc((size_t)n * sizeof(float), "randn out");
        rng_randn(g, out, n);
        compare_result(name, res, out, NULL, n);
        free(out);
    } else if (strcmp(kind, "rand") == 0) {
        float *out = lz_malloc((size_t)n * sizeof(float), "rand out");
        rng_uniform(g, out, n);
        compare_result(name, res, out, NULL, n);
        free(out);
    } else if (strcmp(kind, "randint") == 0) {
        int64_t *out = lz_malloc((size_t)n * sizeof(int64_t), "randint out");
        rng_randint(g, out, n, (int64_t)golden_num(GOLDEN, op, "low"), (int64_t)golden_num(GOLDEN, op, "high"));
        compare_result(name, res, NULL, out, n);
        free(out);
    } else {
        CHECK(0, "%s: unknown op '%s'", GOLDEN, kind);
    }
}

static void test_goldens(void) {
    char *text = golden_read_text(GOLDEN);
    cJSON *doc = cJSON_Parse(text);
    CHECK(doc, "%s: invalid JSON", GOLDEN);
    const cJSON *seqs = golden_field(GOLDEN, doc, "sequences");
    const cJSON *seq;
    cJSON_ArrayForEach(seq, seqs) {
        uint64_t seed = (uint64_t)golden_num(GOLDEN, seq, "seed");
        TorchRng g;
        rng_seed(&g, seed);
        char desc[160] = "";
        const cJSON *op;
        cJSON_ArrayForEach(op, golden_field(GOLDEN, seq, "ops")) {
            size_t len = strlen(desc);
            snprintf(desc + len, sizeof desc - len, "%s%s(%ld)", len ? "," : "", golden_field(GOLDEN, op, "op")->valuestring,
                     (long)golden_num(GOLDEN, op, "n"));
        }
        int k = 0;
        cJSON_ArrayForEach(op, golden_field(GOLDEN, seq, "ops")) {
            char name[256];
            snprintf(name, sizeof name, "rng seed %" PRIu64 " [%s] call %d", seed, desc, k++);
            run_op(&g, op, name);
        }
    }
    // Per-sample noise: seed derivation and randn(C, H, W) of the derived seed.
    const cJSON *item;
    cJSON_ArrayForEach(item, golden_field(GOLDEN, doc, "sample_noise")) {
        uint64_t run_seed = (uint64_t)golden_num(GOLDEN, item, "run_seed");
        long index = (long)golden_num(GOLDEN, item, "index");
        uint64_t want = (uint64_t)golden_num(GOLDEN, item, "seed");
        uint64_t s = rng_sample_seed(run_seed, index);
        char name[160];
        snprintf(name, sizeof name, "rng_sample_seed(%" PRIu64 ", %ld)", run_seed, index);
        TEST_CHECK(s == want, name, "got %" PRIu64 " want %" PRIu64, s, want);
        long n = 4 * 8 * 8;
        float noise[4 * 8 * 8];
        TorchRng g;
        rng_seed(&g, s);
        rng_randn(&g, noise, n);
        snprintf(name, sizeof name, "sample noise run %" PRIu64 " index %ld", run_seed, index);
        compare_result(name, golden_field(GOLDEN, item, "result"), noise, NULL, n);
    }
    cJSON_Delete(doc);
    free(text);
}

// Known answer independent of torch: the 10000th output of mt19937 seeded with
// 5489 is 4123659995 (C++11 [rand.predef]).
static void test_mt19937_known_answer(void) {
    TorchRng g;
    rng_seed(&g, 5489);
    uint32_t v = 0;
    for (int i = 0; i < 10000; i++) v = rng_u32(&g);
    TEST_CHECK(v == 4123659995u, "mt19937 10000th output", "got %u", v);
}

// torch keeps only the low 32 bits of the seed.
static void test_seed_truncation(void) {
    TorchRng a, b;
    rng_seed(&a, 5);
    rng_seed(&b, (1ull << 32) + 5);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= rng_u32(&a) == rng_u32(&b);
    TEST_CHECK(same, "seed uses low 32 bits", "streams of 5 and 2^32+5 differ");
}

// rng_seed must also clear the cached scalar normal.
static void test_reseed_clears_cache(void) {
    TorchRng g;
    float a[1], b[1];
    rng_seed(&g, 3);
    rng_randn(&g, a, 1);  // leaves a cached value
    rng_seed(&g, 3);
    rng_randn(&g, b, 1);
    TEST_CHECK(memcmp(a, b, sizeof a) == 0, "reseed clears normal cache", "%.9g vs %.9g", (double)a[0],
               (double)b[0]);
}

// Seeds of one run are pairwise distinct (fmix32 is a bijection) and < 2^32.
static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}
static void test_sample_seed_distinct(void) {
    enum { N = 100000 };
    uint64_t *s = lz_malloc(N * sizeof(uint64_t), "seeds");
    int small = 1;
    for (long i = 0; i < N; i++) {
        s[i] = rng_sample_seed(42, i);
        small &= s[i] < (1ull << 32);
    }
    qsort(s, N, sizeof s[0], cmp_u64);
    long dups = 0;
    for (long i = 1; i < N; i++) dups += s[i] == s[i - 1];
    TEST_CHECK(small && dups == 0, "sample seeds distinct and 32-bit", "%ld duplicates, all<2^32=%d", dups, small);
    TEST_CHECK(rng_sample_seed(1, 0) != rng_sample_seed(2, 0), "sample seeds depend on run seed", "equal");
    free(s);
}

int main(void) {
    test_mt19937_known_answer();
    test_seed_truncation();
    test_reseed_clears_cache();
    test_sample_seed_distinct();
    test_goldens();
    printf("# compared %ld golden elements, worst float distance %" PRId64 " ulp\n", compared_all, worst_ulp_all);
    return test_finish();
}
