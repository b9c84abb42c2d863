/* Memory mappings: mmap, mprotect, mremap, msync and munmap. */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* Run fn in a forked child; return its wait status.  Core dumps are turned
 * off so a deliberate SIGSEGV does not write one. */
static int in_child(void (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    if (pid < 0) SB_FAIL("fork: %s", sb_errname(errno));
    if (pid == 0) {
        struct rlimit rl = { 0, 0 };
        setrlimit(RLIMIT_CORE, &rl);
        fn(arg);
        _exit(0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) SB_FAIL("waitpid: %s", sb_errname(errno));
    return st;
}

static void touch_read(void *a) { (void)*(volatile char *)a; }
static void touch_write(void *a) { *(volatile char *)a = 1; }

/* ---- mmap ---- */

TEST(mmap, anonymous_zeroed_rw)
{
    char *p = map_anon(3 * PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ((uintptr_t)p % PG, 0);
    for (long i = 0; i < 3 * PG; i += 512) EXPECT_EQ(p[i], 0);
    p[3 * PG - 1] = 'z';
    EXPECT_EQ(p[3 * PG - 1], 'z');
}

TEST(mmap, shared_anonymous_visible_after_fork)
{
    volatile int *p = (int *)mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    pid_t pid;
    EXPECT_OK(pid = fork());
    if (pid == 0) { *p = 42; _exit(0); }
    int st;
    EXPECT_EQ(waitpid(pid, &st, 0), pid);
    EXPECT_EQ(*p, 42);
}

TEST(mmap, file_shared_writes_reach_file)
{
    char dir[64], path[64];
    int fd = make_sized_tmpfile(dir, path, 2 * PG);
    EXPECT_EQ(pwrite(fd, "filedata", 8, PG), 8);
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PG);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_EQ(memcmp(p, "filedata", 8), 0);
    memcpy(p, "FILE", 4);
    char b[9] = {0};
    EXPECT_EQ(pread(fd, b, 8, PG), 8);
    EXPECT_STREQ(b, "FILEdata");
    rm_tmpfile(dir, path);
}

TEST(mmap, file_private_copy_on_write)
{
    char dir[64], path[64];
    int fd = make_sized_tmpfile(dir, path, PG);
    EXPECT_EQ(pwrite(fd, "orig", 4, 0), 4);
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    memcpy(p, "priv", 4);
    char b[5] = {0};
    EXPECT_EQ(pread(fd, b, 4, 0), 4);
    EXPECT_STREQ(b, "orig");
    rm_tmpfile(dir, path);
}

TEST(mmap, sigbus_beyond_eof)
{
    char dir[64], path[64];
    int fd = make_sized_tmpfile(dir, path, 1);
    char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    int st = in_child(touch_read, p + PG);
    rm_tmpfile(dir, path);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGBUS);
}

TEST(mmap, map_fixed_replaces)
{
    char *p = map_anon(3 * PG, PROT_READ | PROT_WRITE);
    p[PG] = 9;
    char *q = mmap(p + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    EXPECT_EQ((uintptr_t)q, (uintptr_t)(p + PG));
    EXPECT_EQ(q[0], 0);
}

TEST(mmap, map_fixed_noreplace_eexist)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_TRUE(mmap(p, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED);
    EXPECT_EQ(errno, EEXIST);
    char *free_addr = unmapped_addr();
    char *q = mmap(free_addr, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    EXPECT_EQ((uintptr_t)q, (uintptr_t)free_addr);
}

TEST(mmap, einval_fixed_unaligned)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_TRUE(mmap(p + 1, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mmap, einval_length_zero)
{
    EXPECT_TRUE(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mmap, einval_no_sharing_type)
{
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mmap, einval_unaligned_offset)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf", 0));
    EXPECT_OK(ftruncate(fd, 2 * PG));
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 1) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mmap, ebadf_file_mapping_without_fd)
{
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED);
    EXPECT_EQ(errno, EBADF);
}

TEST(mmap, eacces_shared_write_on_readonly_fd)
{
    char dir[64], path[64];
    int wfd = make_sized_tmpfile(dir, path, PG);
    int fd;
    EXPECT_OK(fd = open(path, O_RDONLY));
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
    int e = errno;
    /* a private writable mapping of a read-only fd is fine */
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(wfd);
    rm_tmpfile(dir, path);
    EXPECT_EQ(e, EACCES);
    EXPECT_TRUE(p != MAP_FAILED);
}

TEST(mmap, eacces_write_only_fd)
{
    char dir[64], path[64];
    int wfd = make_sized_tmpfile(dir, path, PG);
    int fd;
    EXPECT_OK(fd = open(path, O_WRONLY));
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
    int e = errno;
    close(wfd);
    rm_tmpfile(dir, path);
    EXPECT_EQ(e, EACCES);
}

TEST(mmap, enodev_pipe)
{
    int p[2];
    EXPECT_OK(pipe(p));
    EXPECT_TRUE(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, p[0], 0) == MAP_FAILED);
    EXPECT_EQ(errno, ENODEV);
}

TEST(mmap, prot_none_access_sigsegv)
{
    char *p = map_anon(PG, PROT_NONE);
    int st = in_child(touch_read, p);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGSEGV);
}

static sigjmp_buf segv_jmp;
static volatile siginfo_t segv_info;
static void segv_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig; (void)uc;
    segv_info = *si;
    siglongjmp(segv_jmp, 1);
}

TEST(mmap, prot_none_siginfo_accerr)
{
    char *p = map_anon(PG, PROT_NONE);
    struct sigaction sa = {0};
    sa.sa_sigaction = segv_handler;
    sa.sa_flags = SA_SIGINFO;
    EXPECT_OK(sigaction(SIGSEGV, &sa, NULL));
    if (sigsetjmp(segv_jmp, 1) == 0) {
        touch_write(p + 8);
        SB_FAIL("write to PROT_NONE page did not fault");
    }
    EXPECT_EQ(segv_info.si_signo, SIGSEGV);
    EXPECT_EQ(segv_info.si_code, SEGV_ACCERR);
    EXPECT_EQ((uintptr_t)segv_info.si_addr, (uintptr_t)(p + 8));
}

/* ---- mprotect ---- */

TEST(mprotect, readonly_write_sigsegv)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    p[0] = 1;
    EXPECT_EQ(mprotect(p, PG, PROT_READ), 0);
    EXPECT_EQ(p[0], 1);
    int st = in_child(touch_write, p);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGSEGV);
    EXPECT_EQ(mprotect(p, PG, PROT_READ | PROT_WRITE), 0);
    p[0] = 2;
    EXPECT_EQ(p[0], 2);
}

TEST(mprotect, einval_unaligned)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(mprotect(p + 1, PG, PROT_READ), EINVAL);
}

TEST(mprotect, einval_bad_prot)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(mprotect(p, PG, 0x100), EINVAL);
}

TEST(mprotect, enomem_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_ERRNO(mprotect(p, PG, PROT_READ), ENOMEM);
}

TEST(mprotect, eacces_write_on_readonly_shared_file)
{
    char dir[64], path[64];
    int wfd = make_sized_tmpfile(dir, path, PG);
    int fd;
    EXPECT_OK(fd = open(path, O_RDONLY));
    char *p = mmap(NULL, PG, PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    errno = 0;
    int r = mprotect(p, PG, PROT_READ | PROT_WRITE);
    int e = errno;
    close(wfd);
    rm_tmpfile(dir, path);
    EXPECT_EQ(r, -1);
    EXPECT_EQ(e, EACCES);
}

/* ---- mremap ---- */

TEST(mremap, grow_maymove_keeps_content)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    strcpy(p, "remap");
    char *q = mremap(p, PG, 64 * PG, MREMAP_MAYMOVE);
    EXPECT_TRUE(q != MAP_FAILED);
    EXPECT_STREQ(q, "remap");
    q[64 * PG - 1] = 1;
    EXPECT_EQ(q[63 * PG], 0);
}

TEST(mremap, enomem_grow_in_place_blocked)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_TRUE(mremap(p, PG, 2 * PG, 0) == MAP_FAILED);
    EXPECT_EQ(errno, ENOMEM);
}

TEST(mremap, shrink_in_place)
{
    char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE);
    p[0] = 3;
    EXPECT_EQ((uintptr_t)mremap(p, 4 * PG, PG, 0), (uintptr_t)p);
    EXPECT_EQ(p[0], 3);
    unsigned char vec;
    EXPECT_ERRNO(mincore(p + PG, PG, &vec), ENOMEM);
}

TEST(mremap, fixed_moves_to_address)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    char *dst = map_anon(2 * PG, PROT_NONE);
    strcpy(p, "moved");
    char *q = mremap(p, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + PG);
    EXPECT_EQ((uintptr_t)q, (uintptr_t)(dst + PG));
    EXPECT_STREQ(q, "moved");
    unsigned char vec;
    EXPECT_ERRNO(mincore(p, PG, &vec), ENOMEM);
}

TEST(mremap, einval_fixed_without_maymove)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    char *dst = unmapped_addr();
    EXPECT_TRUE(mremap(p, PG, PG, MREMAP_FIXED, dst) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mremap, einval_unaligned_or_bad_flags)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_TRUE(mremap(p + 1, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_TRUE(mremap(p, PG, 2 * PG, 0x80) == MAP_FAILED);
    EXPECT_EQ(errno, EINVAL);
}

TEST(mremap, efault_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_TRUE(mremap(p, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
    EXPECT_EQ(errno, EFAULT);
}

/* ---- msync ---- */

TEST(msync, shared_file_sync_ok)
{
    char dir[64], path[64];
    int fd = make_sized_tmpfile(dir, path, PG);
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    memcpy(p, "sync", 4);
    EXPECT_EQ(msync(p, PG, MS_SYNC), 0);
    EXPECT_EQ(msync(p, PG, MS_ASYNC), 0);
    EXPECT_EQ(msync(p, PG, MS_INVALIDATE), 0);
    char b[5] = {0};
    EXPECT_EQ(pread(fd, b, 4, 0), 4);
    EXPECT_STREQ(b, "sync");
    rm_tmpfile(dir, path);
}

TEST(msync, einval_unaligned)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(msync(p + 1, PG, MS_SYNC), EINVAL);
}

TEST(msync, einval_sync_and_async)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(msync(p, PG, MS_SYNC | MS_ASYNC), EINVAL);
    EXPECT_ERRNO(msync(p, PG, 0x100), EINVAL);
}

TEST(msync, enomem_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_ERRNO(msync(p, PG, MS_SYNC), ENOMEM);
}

/* ---- munmap ---- */

TEST(munmap, access_after_unmap_sigsegv)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ(munmap(p, PG), 0);
    int st = in_child(touch_read, p);
    EXPECT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGSEGV);
}

TEST(munmap, partial_middle_page)
{
    char *p = map_anon(3 * PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ(munmap(p + PG, PG), 0);
    p[0] = 1;
    p[2 * PG] = 1;
    unsigned char vec;
    EXPECT_ERRNO(mincore(p + PG, PG, &vec), ENOMEM);
}

TEST(munmap, unmapped_range_ok)
{
    char *p = unmapped_addr();
    EXPECT_EQ(munmap(p, PG), 0);
}

TEST(munmap, einval_unaligned_or_zero)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(munmap(p + 1, PG), EINVAL);
    EXPECT_ERRNO(munmap(p, 0), EINVAL);
}
