/* Counts lines, words and bytes of stdin and the 5 most frequent words (ties: alphabetical).
   Build: python -m ziglang cc --target=wasm32-wasi -O2 -s wordcount.c -o build/wordcount.wasm */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORDS 4096
#define MAX_LEN 64

struct entry { char word[MAX_LEN]; int count; };
static struct entry table[MAX_WORDS];
static int distinct;

static void add(const char *w) {
    for (int i = 0; i < distinct; i++)
        if (strcmp(table[i].word, w) == 0) { table[i].count++; return; }
    if (distinct < MAX_WORDS) { strcpy(table[distinct].word, w); table[distinct++].count = 1; }
}

static int by_count(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->count != y->count) return y->count - x->count;
    return strcmp(x->word, y->word);
}

int main(void) {
    long lines = 0, words = 0, bytes = 0;
    char w[MAX_LEN];
    int len = 0, c;
    while ((c = getchar()) != EOF) {
        bytes++;
        if (c == '\n') lines++;
        if (isalnum(c)) {
            if (len < MAX_LEN - 1) w[len++] = (char)tolower(c);
        } else if (len) {
            w[len] = 0; add(w); words++; len = 0;
        }
    }
    if (len) { w[len] = 0; add(w); words++; }
    qsort(table, distinct, sizeof table[0], by_count);
    printf("lines=%ld words=%ld bytes=%ld distinct=%d\n", lines, words, bytes, distinct);
    for (int i = 0; i < distinct && i < 5; i++) printf("%s %d\n", table[i].word, table[i].count);
    return 0;
}
