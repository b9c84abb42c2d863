#include <stdlib.h>
#include "wordstats.h"

void sb_init(struct strbuf *b) { b->s = NULL; b->len = b->cap = 0; }

void sb_addc(struct strbuf *b, char c)
{
    if (b->len + 2 > b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->s = realloc(b->s, b->cap);
        if (!b->s) abort();
    }
    b->s[b->len++] = c;
    b->s[b->len] = 0;
}

void sb_free(struct strbuf *b) { free(b->s); sb_init(b); }
