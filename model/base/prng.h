// prng.h: the project's general-purpose generator (initialisation, dropout,
// shuffling, subsampling): xoshiro256** seeded through splitmix64. It is NOT the
// torch-compatible generator (see torch_rng.h), which exists only to reproduce
// torch.randn noise; this one is fast, has a tiny state that checkpoints can
// store, and is a pure function of its seed.
#pragma once
#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Prng;

static inline uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void prng_seed(Prng *g, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
}

static inline uint64_t prng_next(Prng *g) {
    uint64_t *s = g->s;
    uint64_t r = s[1] * 5;
    r = ((r << 7) | (r >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return r;
}

// Uniform double in [0, 1) with 53 random bits.
static inline double prng_uniform(Prng *g) { return (double)(prng_next(g) >> 11) * 0x1.0p-53; }

// Uniform integer in [0, n) without modulo bias (Lemire's rejection).
static inline uint64_t prng_below(Prng *g, uint64_t n) {
    for (;;) {
        uint64_t x = prng_next(g);
        __uint128_t m = (__uint128_t)x * n;
        uint64_t lo = (uint64_t)m;
        if (lo >= n || lo >= (-n) % n) return (uint64_t)(m >> 64);
    }
}

// Standard normal via Box-Muller (one value per call; simple and stateless
// beyond the generator so that checkpointing the 4 words is enough).
static inline double prng_normal(Prng *g) {
    double u1 = 1.0 - prng_uniform(g);  // (0, 1]: log is finite
    double u2 = prng_uniform(g);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
