/* 8 threads, each creating, writing, reading back, renaming, stat()ing and
 * removing its own files in a private directory under /tmp.  Output is one
 * line per thread (a checksum of what it read) and one line per failed
 * call, naming the call and its errno, so a diff shows what went wrong. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 8
#define FILES 40
static char dir[64];
static char report[THREADS][4096];

static void note(int t, const char *what, int k)
{
    size_t n = strlen(report[t]);
    if (n < sizeof report[t] - 100)
        snprintf(report[t] + n, sizeof report[t] - n, "thread %d file %d: %s: %s\n", t, k, what, strerror(errno));
}

static void *work(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t sum = 0;
    char path[128], path2[128], buf[8192];
    for (int k = 0; k < FILES; k++) {
        snprintf(path, sizeof path, "%s/t%d-f%d", dir, t, k);
        snprintf(path2, sizeof path2, "%s/t%d-f%d.done", dir, t, k);
        int len = 0;
        for (int j = 0; j < 200 + 37 * k; j++)
            len += snprintf(buf + len, sizeof buf - len, "%d", (t * 1000 + k) * j % 10007);
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0) { note(t, "open(O_CREAT)", k); continue; }
        if (write(fd, buf, len) != len) note(t, "write", k);
        close(fd);
        if (rename(path, path2) != 0) { note(t, "rename", k); continue; }
        struct stat st;
        if (stat(path2, &st) != 0) note(t, "stat", k);
        else if (st.st_size != len) note(t, "stat size", k);
        fd = open(path2, O_RDONLY);
        if (fd < 0) { note(t, "open(O_RDONLY)", k); continue; }
        char got[8192];
        ssize_t n = read(fd, got, sizeof got);
        close(fd);
        if (n != len || memcmp(got, buf, len) != 0) { note(t, "read back", k); continue; }
        for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)got[i];
        if (k % 2 && unlink(path2) != 0) note(t, "unlink", k);
    }
    size_t n = strlen(report[t]);
    snprintf(report[t] + n, sizeof report[t] - n, "thread %d checksum %016llx\n", t, (unsigned long long)sum);
    return NULL;
}

int main(void)
{
    strcpy(dir, "/tmp/threads.XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        if (pthread_create(&th[t], NULL, work, (void *)(intptr_t)t) != 0) { perror("pthread_create"); return 2; }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    int bad = 0;
    for (int t = 0; t < THREADS; t++) { fputs(report[t], stdout); bad |= strstr(report[t], " file ") != NULL; }
    /* What is left: the even-numbered files of every thread. */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls %s | wc -l; rm -r %s", dir, dir);
    fflush(stdout);
    if (system(cmd) != 0) bad = 1;
    return bad;
}
