#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "wordstats.h"

static void emit(const char *word, unsigned long count) { printf("%6lu %s\n", count, word); }

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
        return self_test();
    struct table *t = table_new(1021);
    unsigned long total = 0;
    for (int i = 1; i < argc; i++) {
        long size;
        uint64_t h = fnv1a_file(argv[i], &size);
        printf("%-24s %6ld bytes  fnv %016llx\n", argv[i], size, (unsigned long long)h);
        FILE *f = fopen(argv[i], "r");
        if (!f) { perror(argv[i]); return 1; }
        struct strbuf w;
        sb_init(&w);
        int c;
        do {
            c = fgetc(f);
            if (c != EOF && (isalnum(c) || c == '_')) { sb_addc(&w, (char)c); continue; }
            if (w.len) { table_add(t, w.s); total++; sb_free(&w); }
        } while (c != EOF);
        fclose(f);
    }
    printf("%lu words, %zu distinct\n", total, table_size(t));
    table_top(t, 10, emit);
    table_free(t);
    return 0;
}
