#include <stdlib.h>
#include <string.h>
#include "wordstats.h"

struct entry { char *word; unsigned long count; struct entry *next; };
struct table { size_t nb, n; struct entry **b; };

struct table *table_new(size_t buckets)
{
    struct table *t = calloc(1, sizeof *t);
    t->nb = buckets;
    t->b = calloc(buckets, sizeof *t->b);
    return t;
}

void table_add(struct table *t, const char *word)
{
    size_t i = fnv1a(word) % t->nb;
    for (struct entry *e = t->b[i]; e; e = e->next)
        if (strcmp(e->word, word) == 0) { e->count++; return; }
    struct entry *e = malloc(sizeof *e);
    e->word = strdup(word);
    e->count = 1;
    e->next = t->b[i];
    t->b[i] = e;
    t->n++;
}

size_t table_size(const struct table *t) { return t->n; }

static int by_count(const void *a, const void *b)
{
    const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

void table_top(const struct table *t, size_t n, void (*emit)(const char *, unsigned long))
{
    struct entry **all = malloc(t->n * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < t->nb; i++)
        for (struct entry *e = t->b[i]; e; e = e->next) all[k++] = e;
    qsort(all, k, sizeof *all, by_count);
    for (size_t i = 0; i < n && i < k; i++) emit(all[i]->word, all[i]->count);
    free(all);
}

void table_free(struct table *t)
{
    for (size_t i = 0; i < t->nb; i++)
        for (struct entry *e = t->b[i], *next; e; e = next) { next = e->next; free(e->word); free(e); }
    free(t->b);
    free(t);
}
