/* Helpers shared by several conformance files.  Include after harness.h.
 *
 * Everything here is static inline (or a static variable only these helpers
 * and the cases touch), so a file that uses only some of it compiles without
 * unused warnings.  Signal helpers are in signal_helpers.h, socket helpers
 * in net_helpers.h. */
#ifndef PYSANDBOX_HELPERS_H
#define PYSANDBOX_HELPERS_H
#include "harness.h"
#include <fcntl.h>
#include <ftw.h>
#include <linux/capability.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

/* ---- files in a per-case scratch directory (files_*.c) ---- */

static char D[32];          /* the case's scratch directory, made by scratch() */
static struct stat S;       /* filled by fsize(); cases read it directly too */
static char B[256];         /* slurp()'s buffer; cases use it as a scratch buffer */
/* An unmapped address, hidden from the compiler's buffer-size checks. */
static void *volatile bad_ptr = (void *)1;
#define BAD (bad_ptr)

/* nftw callback for scratch(): remove whatever is there, ignore errors. */
static inline int rm_one(const char *p, const struct stat *s, int type, struct FTW *f)
{
    (void)s; (void)type; (void)f;
    remove(p);
    return 0;
}

/* Make a fresh directory D, then fork: the child returns and runs the rest of
 * the case (with its own 10 s alarm); the parent waits, removes D whatever
 * happened, and exits with the child's status (re-raising its signal), so a
 * case never leaves files behind. */
static inline void scratch(void)
{
    strcpy(D, "/tmp/conf.XXXXXX");
    if (!mkdtemp(D)) SB_FAIL("mkdtemp: %s", sb_errname(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) { alarm(10); return; }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (chdir("/") == 0) nftw(D, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (WIFSIGNALED(st)) { signal(WTERMSIG(st), SIG_DFL); raise(WTERMSIG(st)); }
    _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
}

/* D/name, in one of 4 rotating buffers (so one call can take several). */
static inline const char *P(const char *name)
{
    static char buf[4][256]; static int i;
    char *b = buf[i++ & 3];
    snprintf(b, 256, "%s/%s", D, name);
    return b;
}

/* Create (or truncate) path holding content; 0 on success, -1 on error. */
static inline int mkfile(const char *path, const char *content)
{
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return -1;
    ssize_t n = write(fd, content, strlen(content));
    close(fd);
    return n == (ssize_t)strlen(content) ? 0 : -1;
}

/* Create D/name holding content (unless content is NULL), open it with flags.
 * An empty name opens D itself. */
static inline int fx(const char *name, const char *content, int flags)
{
    if (content && mkfile(P(name), content) < 0) SB_FAIL("mkfile %s: %s", name, sb_errname(errno));
    int fd = open(name[0] ? P(name) : D, flags, 0644);
    if (fd < 0) SB_FAIL("open %s: %s", name, sb_errname(errno));
    return fd;
}

/* Open D/name (D for "") as a directory. */
static inline int opendir_(const char *name) { return fx(name, NULL, O_RDONLY | O_DIRECTORY); }

/* The size of path (stat into S), or -1. */
static inline long fsize(const char *path)
{
    return stat(path, &S) < 0 ? -1 : (long)S.st_size;
}

/* The first 255 bytes of path as a string in B, or "<open failed>". */
static inline char *slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return "<open failed>";
    ssize_t n = read(fd, B, sizeof B - 1);
    close(fd);
    B[n < 0 ? 0 : n] = 0;
    return B;
}

/* qsort comparator for an array of strings. */
static inline int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct linux_dirent64 { unsigned long long d_ino; long long d_off; unsigned short d_reclen; unsigned char d_type; char d_name[]; };

/* The entries of directory fd as "name(d_type)" sorted and joined with ','
 * (order-independent, so the same on ext4 and tmpfs); legacy reads them with
 * getdents instead of getdents64. */
static inline const char *listing(int fd, int legacy)
{
    static char out[512], names[32][72];
    char buf[600], *v[32];
    int n = 0;
    long r;
    while ((r = syscall(legacy ? SYS_getdents : SYS_getdents64, fd, buf, sizeof buf)) > 0)
        for (long o = 0; o < r && n < 32; n++) {
            struct linux_dirent64 *d = (void *)(buf + o);
            if (legacy) /* ino, off, reclen, name..., type in the last byte */
                snprintf(names[n], 72, "%s(%d)", buf + o + 18, buf[o + *(unsigned short *)(buf + o + 16) - 1]);
            else
                snprintf(names[n], 72, "%s(%d)", d->d_name, d->d_type);
            v[n] = names[n];
            o += legacy ? *(unsigned short *)(buf + o + 16) : d->d_reclen;
        }
    if (r < 0) return sb_errname(errno);
    qsort(v, n, sizeof *v, by_name);
    out[0] = 0;
    for (int i = 0; i < n; i++) { if (i) strcat(out, ","); strcat(out, v[i]); }
    return out;
}

/* ---- one temporary file (fds.c, pipes.c, memory.c, mmap.c) ---- */

/* A fresh /tmp/conf.XXXXXX dir (into dir, 17+ bytes) holding an empty file
 * "f" (its path into path, 64 bytes), opened O_RDWR; rm_tmpfile cleans up. */
static inline int make_tmpfile(char *dir, char *path)
{
    strcpy(dir, "/tmp/conf.XXXXXX");
    if (!mkdtemp(dir)) SB_FAIL("mkdtemp: %s", sb_errname(errno));
    snprintf(path, 64, "%s/f", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) SB_FAIL("open %s: %s", path, sb_errname(errno));
    return fd;
}

/* make_tmpfile, with the file extended to size bytes (for mappings). */
static inline int make_sized_tmpfile(char *dir, char *path, size_t size)
{
    int fd = make_tmpfile(dir, path);
    if (ftruncate(fd, size)) SB_FAIL("ftruncate: %s", sb_errname(errno));
    return fd;
}

static inline void rm_tmpfile(const char *dir, const char *path)
{
    unlink(path);
    rmdir(dir);
}

/* The same with static names and checked cleanup (epoll.c, rlimits.c): a new
 * empty file scratch_file in a fresh dir scratch_dir; rm_scratch removes both. */
static char scratch_dir[64];
static char scratch_file[96];
static inline int scratch_open(void)
{
    strcpy(scratch_dir, "/tmp/conf.XXXXXX");
    EXPECT_TRUE(mkdtemp(scratch_dir) != NULL);
    snprintf(scratch_file, sizeof scratch_file, "%s/f", scratch_dir);
    int fd = open(scratch_file, O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_OK(fd);
    return fd;
}
static inline void rm_scratch(void)
{
    EXPECT_OK(unlink(scratch_file));
    EXPECT_OK(rmdir(scratch_dir));
}

/* ---- processes and capabilities ---- */

/* Wait for pid and return its status (failing the case on error). */
static inline int reap(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) SB_FAIL("waitpid(%d): %s", pid, sb_errname(errno));
    return st;
}

/* A pid that existed and has been reaped: a target that is known not to exist. */
static inline pid_t dead_pid(void)
{
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) _exit(0);
    reap(pid);
    return pid;
}

/* Whether this process has capability cap in its effective set (root may or
 * may not have a given one natively; the sandbox has Docker's set). */
static inline int have_cap(int cap)
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) < 0) SB_FAIL("capget: %s", sb_errname(errno));
    return (d[cap / 32].effective >> (cap % 32)) & 1;
}

/* Our capability sets, as capget gives them (two 32-bit halves)... */
static inline void caps_get(struct __user_cap_data_struct d[2])
{
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    EXPECT_OK(syscall(SYS_capget, &h, d));
}

/* ...and one of them as a 64-bit mask: which 0 effective, 1 permitted,
 * 2 inheritable. */
static inline uint64_t cap_word(const struct __user_cap_data_struct d[2], int which)
{
    uint32_t lo = which == 0 ? d[0].effective : which == 1 ? d[0].permitted : d[0].inheritable;
    uint32_t hi = which == 0 ? d[1].effective : which == 1 ? d[1].permitted : d[1].inheritable;
    return (uint64_t)hi << 32 | lo;
}

/* ---- time (time.c, timers.c) ----
 * glibc answers clock_gettime from the vDSO without entering the kernel (so
 * without seccomp): now_ns calls the raw syscall. */

#define NS 1000000000LL

static inline long long ts_ns(const struct timespec *t) { return t->tv_sec * NS + t->tv_nsec; }

static inline long long now_ns(clockid_t c)
{
    struct timespec t;
    if (syscall(SYS_clock_gettime, c, &t)) SB_FAIL("clock_gettime(%d): %s", (int)c, sb_errname(errno));
    return ts_ns(&t);
}

/* ---- memory (memory.c, mmap.c) ---- */

/* The page size, set before any case runs. */
static long PG;
__attribute__((constructor)) static void init_pg(void) { PG = sysconf(_SC_PAGESIZE); }

/* A private anonymous mapping of len bytes with protection prot. */
static inline char *map_anon(size_t len, int prot)
{
    void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) SB_FAIL("mmap anon: %s", sb_errname(errno));
    return p;
}

/* A page that was mapped and is unmapped again: an address known to be free. */
static inline char *unmapped_addr(void)
{
    char *p = map_anon(PG, PROT_NONE);
    if (munmap(p, PG)) SB_FAIL("munmap: %s", sb_errname(errno));
    return p;
}
#endif
