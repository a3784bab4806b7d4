// torch_rng.h: a bit-exact C copy of PyTorch's default CPU generator, used only to
// draw the same initial noise (and DDPM/DDIM step noise) as a PyTorch run
// seeded with torch.manual_seed. Everything else in the project uses prng.h.
//
// What is reproduced (checked against torch 1.13.1 on x86-64 with AVX2, the
// Debian python3-torch build; see tests/ref/gen_rng.py and tests/test_rng.c):
//
// Engine. mt19937 (Matsumoto-Nishimura, 32-bit output) in torch's variant:
//   manual_seed(s) sets state[0] = s & 0xffffffff (the upper 32 bits of s are
//   dropped), state[j] = 1812433253 * (state[j-1] ^ (state[j-1] >> 30)) + j,
//   and clears the cached "next normal" values. random() is one engine output;
//   random64() is (first << 32) | second.
//
// torch.rand(n) (float32): u = (random() & (2^24 - 1)) * 2^-24, one engine
//   output per element, in order. Values lie in [0, 1).
//
// torch.randint(low, high, (n,)) (int64): range = high - low as uint64; each
//   element is low + (r % range) with r = random64() when range >= 2^32, else
//   r = random(). (Modulo bias included, as in torch.)
//
// torch.randn(n) (float32) has two code paths chosen by the element count:
//   n < 16 (scalar path): each element is a float64 Box-Muller normal cast to
//     float. A normal is made from two 53-bit uniforms u1, u2 (each from one
//     random64(): (r & (2^53 - 1)) * 2^-53): rad = sqrt(-2 log(1 - u2)),
//     theta = 2 pi u1; the call returns rad*cos(theta) and caches rad*sin(theta)
//     in the generator, and the NEXT scalar normal (same or a later call)
//     returns the cached value without drawing. The cache survives calls on the
//     vectorised path and is cleared only by manual_seed.
//   n >= 16 (vectorised path, contiguous float32): first all n elements are
//     filled with float uniforms (as torch.rand); then every complete block of
//     16 at offsets 0, 16, 32, ... is transformed in place by Box-Muller: for
//     j < 8, u1 = 1 - d[j], u2 = d[j+8], rad = sqrt(-2 log(u1)),
//     theta = 2 pi u2, d[j] = rad cos(theta), d[j+8] = rad sin(theta).
//     If n % 16 != 0, 16 FRESH uniforms are then drawn into d[n-16 .. n) (this
//     overwrites the tail of the last complete block) and that window is
//     transformed once more. So randn(n) consumes n + (n % 16 ? 16 : 0)
//     engine outputs.
//   On AVX2 machines torch evaluates log/sin/cos of the vectorised path with
//   the Cephes-style float polynomials of avx_mathfun.h (log256_ps,
//   sincos256_ps), compiled by GCC with FMA contraction. rng.c re-implements
//   those polynomials in scalar C with explicit fmaf() exactly where the
//   compiler fused a multiply with the following add, which makes the output
//   bit-exact (measured: 0 differing elements out of 1.8e6, seeds 0 .. 2^32+5,
//   sizes 16 .. 100000 with and without tails).
//
// Per-sample seeds. To make sample i's noise independent of the batch it is
// drawn in, the sampler seeds a fresh generator per sample:
//   torch.manual_seed(rng_sample_seed(run_seed, i)); x_T = torch.randn(C, H, W)
// rng_sample_seed is documented below (with a Python twin in gen_rng.py).
#pragma once
#include <stdint.h>

#define RNG_MT_N 624

typedef struct {
    uint32_t state[RNG_MT_N];  // mt19937 state words
    int left;                  // outputs left before the next regeneration (torch's left_)
    int next;                  // index of the next state word to temper (torch's next_)
    uint64_t seed;             // the value given to rng_seed (torch.initial_seed())
    int has_next_normal;       // torch's next_double_normal_sample_ is set
    double next_normal;        // the cached sin half of the last scalar Box-Muller pair
} TorchRng;

// torch.manual_seed(seed) on the default CPU generator.
void rng_seed(TorchRng *g, uint64_t seed);
// One engine output (torch's CPUGeneratorImpl::random()).
uint32_t rng_u32(TorchRng *g);
// Two engine outputs, first in the high word (CPUGeneratorImpl::random64()).
uint64_t rng_u64(TorchRng *g);

// out[0..n) = torch.randn(n) (float32, contiguous), advancing g as torch does.
// Works for any shape: torch.randn(C, H, W) equals torch.randn(C*H*W).
void rng_randn(TorchRng *g, float *out, long n);
// out[0..n) = torch.rand(n) (float32): uniform in [0, 1) with 24 random bits.
void rng_uniform(TorchRng *g, float *out, long n);
// out[0..n) = torch.randint(low, high, (n,)) (int64). Requires low < high.
void rng_randint(TorchRng *g, int64_t *out, long n, int64_t low, int64_t high);

// Seed for sample `sample_index` of a run seeded with `run_seed`:
//   base = splitmix64(run_seed)        (one step of splitmix64 with state
//                                        run_seed: z = run_seed + 0x9E3779B97F4A7C15,
//                                        then the usual two xor-shift-multiplies)
//   x    = ((uint32)base + (uint32)sample_index) mod 2^32
//   seed = fmix32(x)                   (the MurmurHash3 32-bit finaliser:
//                                        x ^= x>>16; x *= 0x85ebca6b; x ^= x>>13;
//                                        x *= 0xc2b2ae35; x ^= x>>16)
// The result is < 2^32 on purpose: torch's mt19937 only uses the low 32 bits of
// a seed, so a 64-bit hash would silently collide (birthday bound: ~25% chance
// of a repeated noise among 50k samples). fmix32 is a bijection on 32-bit
// words, so within one run the seeds of samples 0 .. 2^32-1 are all distinct;
// splitmix64 decorrelates neighbouring run seeds.
uint64_t rng_sample_seed(uint64_t run_seed, long sample_index);
