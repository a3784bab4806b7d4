// Fuzz target: the respacing string ("N", "ddimN", "a,b,c") over base
// schedules of 1..1000 steps (the first byte picks the base length).
#include "model/diffusion.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int T = 1000;
    if (size > 0 && data[0] < 0x20) {  // a control byte selects a small base schedule
        T = 1 + data[0] * 31;
        data++, size--;
    }
    char *s = fuzz_string(data, size);
    unsigned char keep[1000];
    int count = -1;
    LzError err;
    if (diffusion_space_timesteps(keep, &count, T, s, &err) == 0) {
        int n = 0;
        for (int i = 0; i < T; i++) n += keep[i] != 0;
        if (n != count || count < 1 || count > T) abort();
    } else if (!err.msg[0] || strchr(err.msg, '\n')) {
        abort();
    }
    free(s);
    return 0;
}
