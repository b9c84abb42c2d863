/* A small word-statistics tool split over several files, built by make -j2. */
#ifndef WORDSTATS_H
#define WORDSTATS_H
#include <stddef.h>
#include <stdint.h>

struct strbuf { char *s; size_t len, cap; };
void sb_init(struct strbuf *b);
void sb_addc(struct strbuf *b, char c);
void sb_free(struct strbuf *b);

struct table;
struct table *table_new(size_t buckets);
void table_add(struct table *t, const char *word);
size_t table_size(const struct table *t);
/* The n most frequent words (ties by name), as "count word" lines. */
void table_top(const struct table *t, size_t n, void (*emit)(const char *word, unsigned long count));
void table_free(struct table *t);

uint32_t fnv1a(const char *s);
uint64_t fnv1a_file(const char *path, long *size);

int self_test(void);
#endif
