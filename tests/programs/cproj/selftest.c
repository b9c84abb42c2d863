#include <stdio.h>
#include <string.h>
#include "wordstats.h"

int self_test(void)
{
    int bad = 0;
    if (fnv1a("") != 2166136261u) bad++;
    if (fnv1a("a") != 0xe40c292cu) bad++;
    struct table *t = table_new(7);
    const char *words[] = { "x", "y", "x", "z", "x", "y" };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) table_add(t, words[i]);
    if (table_size(t) != 3) bad++;
    table_free(t);
    struct strbuf b;
    sb_init(&b);
    for (int i = 0; i < 1000; i++) sb_addc(&b, (char)('a' + i % 26));
    if (b.len != 1000 || strncmp(b.s, "abc", 3) != 0) bad++;
    sb_free(&b);
    printf("self-test: %s\n", bad ? "FAILED" : "ok");
    return bad;
}
