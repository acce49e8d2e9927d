/* The compute-heavy benchmark job: a 200x200 float matrix product (5 times) and 60M rounds of an
   ARX hash. Built twice from this one source: for wasm32-wasi (zig) and natively (gcc -O2). */
#include <stdint.h>
#include <stdio.h>

#define N 200
static double A[N][N], B[N][N], C[N][N];

static uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

int main(void) {
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            A[i][j] = (i * 31 + j * 7) % 13 / 7.0;
            B[i][j] = (i * 3 + j * 11) % 17 / 5.0;
        }
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < N; i++)
            for (int k = 0; k < N; k++) {
                double a = A[i][k];
                for (int j = 0; j < N; j++) C[i][j] += a * B[k][j];
            }
    double s = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) s += C[i][j];
    uint32_t h = 0x811c9dc5, a = 1, b = 2, c = 3, d = 4;
    for (uint32_t i = 0; i < 60000000; i++) {
        a += b ^ i; d = rotl(d ^ a, 16); c += d; b = rotl(b ^ c, 12); h ^= a; h *= 16777619u;
    }
    printf("matsum=%.6f hash=%08x\n", s, h ^ a ^ b ^ c ^ d);
    return 0;
}
