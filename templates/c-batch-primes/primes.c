/* A batch job: one input line per task ("lo hi"), one output line per task with the number of
   primes in [lo, hi] and their sum. Deterministic, integer-only, many independent items.
   Build: python -m ziglang cc --target=wasm32-wasi -O2 -s primes.c -o build/primes.wasm */
#include <stdio.h>

static int is_prime(unsigned long n) {
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    for (unsigned long d = 3; d * d <= n; d += 2)
        if (n % d == 0) return 0;
    return 1;
}

int main(void) {
    unsigned long lo, hi;
    int task = 0;
    while (scanf("%lu %lu", &lo, &hi) == 2) {
        unsigned long count = 0, sum = 0;
        for (unsigned long n = lo; n <= hi; n++)
            if (is_prime(n)) { count++; sum += n; }
        printf("task %d [%lu, %lu]: %lu primes, sum %lu\n", task++, lo, hi, count, sum);
    }
    return 0;
}
