#include <stdio.h>
#include "wordstats.h"

uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s) { h ^= (unsigned char)*s++; h *= 16777619u; }
    return h;
}

uint64_t fnv1a_file(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    uint64_t h = 14695981039346656037ull;
    int c;
    *size = 0;
    if (!f) return 0;
    while ((c = fgetc(f)) != EOF) { h ^= (unsigned char)c; h *= 1099511628211ull; ++*size; }
    fclose(f);
    return h;
}
