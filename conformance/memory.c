/* Memory: brk, madvise, membarrier, memfd_create, mincore and the mlock
 * family.  The mmap family is in mmap.c. */
#include "harness.h"
#include "helpers.h"
#include <fcntl.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* ---- brk ---- */

TEST(brk, query_returns_current_break)
{
    long cur = syscall(SYS_brk, 0);
    EXPECT_TRUE(cur > 0);
    EXPECT_EQ(syscall(SYS_brk, 0), cur);
}

TEST(brk, grow_write_and_shrink)
{
    long cur = syscall(SYS_brk, 0);
    long want = cur + 4 * PG;
    EXPECT_EQ(syscall(SYS_brk, want), want);
    memset((char *)cur, 0x5a, 4 * PG);
    EXPECT_EQ(((char *)cur)[4 * PG - 1], 0x5a);
    EXPECT_EQ(syscall(SYS_brk, cur), cur);
    EXPECT_EQ(syscall(SYS_brk, 0), cur);
}

TEST(brk, below_start_is_refused_returns_current)
{
    long cur = syscall(SYS_brk, 0);
    EXPECT_EQ(syscall(SYS_brk, 4096), cur);
}

/* ---- madvise ---- */

TEST(madvise, dontneed_zeroes_private_anon)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    memset(p, 0x77, 2 * PG);
    EXPECT_EQ(madvise(p, PG, MADV_DONTNEED), 0);
    EXPECT_EQ(p[0], 0);
    EXPECT_EQ(p[PG - 1], 0);
    EXPECT_EQ(p[PG], 0x77);
}

TEST(madvise, dontneed_keeps_shared_file_data)
{
    char dir[64], path[64];
    int fd = make_sized_tmpfile(dir, path, PG);
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    p[10] = 'k';
    EXPECT_EQ(madvise(p, PG, MADV_DONTNEED), 0);
    EXPECT_EQ(p[10], 'k');
    rm_tmpfile(dir, path);
}

TEST(madvise, common_advice_ok)
{
    char *p = map_anon(4 * PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_NORMAL), 0);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_RANDOM), 0);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_SEQUENTIAL), 0);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_WILLNEED), 0);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_DONTFORK), 0);
    EXPECT_EQ(madvise(p, 4 * PG, MADV_DOFORK), 0);
}

TEST(madvise, einval_unaligned)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(madvise(p + 1, PG - 1, MADV_DONTNEED), EINVAL);
}

TEST(madvise, einval_bad_advice)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_ERRNO(madvise(p, PG, 12345), EINVAL);
}

TEST(madvise, enomem_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_ERRNO(madvise(p, PG, MADV_WILLNEED), ENOMEM);
}

/* ---- membarrier ---- */

TEST(membarrier, query)
{
    long mask = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    EXPECT_TRUE(mask > 0);
    EXPECT_TRUE(mask & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
    EXPECT_TRUE(mask & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

TEST(membarrier, private_expedited_needs_registration)
{
    EXPECT_ERRNO(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), EPERM);
    EXPECT_EQ(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0), 0);
    EXPECT_EQ(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0), 0);
}

TEST(membarrier, einval_bad_cmd_or_flags)
{
    EXPECT_ERRNO(syscall(SYS_membarrier, 1 << 20, 0, 0), EINVAL);
    EXPECT_ERRNO(syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1, 0), EINVAL);
}

/* ---- memfd_create ---- */

TEST(memfd_create, write_read_mmap)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf", 0));
    EXPECT_EQ(write(fd, "memfd", 5), 5);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_EQ(st.st_size, 5);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_OK(ftruncate(fd, PG));
    char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_EQ(memcmp(p, "memfd", 5), 0);
    p[0] = 'M';
    char b[6] = {0};
    EXPECT_EQ(pread(fd, b, 5, 0), 5);
    EXPECT_STREQ(b, "Memfd");
    EXPECT_EQ(fcntl(fd, F_GETFD), 0);
}

TEST(memfd_create, cloexec)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf", MFD_CLOEXEC));
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
}

TEST(memfd_create, proc_link_name)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf-name", 0));
    char link[64], target[128] = {0};
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    EXPECT_OK(readlink(link, target, sizeof target - 1));
    EXPECT_STREQ(target, "/memfd:conf-name (deleted)");
}

TEST(memfd_create, sealing)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf", MFD_ALLOW_SEALING));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), 0);
    EXPECT_EQ(write(fd, "ab", 2), 2);
    EXPECT_OK(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_WRITE | F_SEAL_SHRINK);
    EXPECT_ERRNO(write(fd, "c", 1), EPERM);
    EXPECT_ERRNO(ftruncate(fd, 0), EPERM);
}

TEST(memfd_create, no_sealing_by_default)
{
    int fd;
    EXPECT_OK(fd = memfd_create("conf", 0));
    EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SEAL);
    EXPECT_ERRNO(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), EPERM);
}

TEST(memfd_create, einval_bad_flags)
{
    EXPECT_ERRNO(syscall(SYS_memfd_create, "conf", 0x1000), EINVAL);
}

TEST(memfd_create, einval_name_too_long)
{
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    EXPECT_ERRNO(syscall(SYS_memfd_create, name, 0), EINVAL);
}

TEST(memfd_create, efault_name)
{
    EXPECT_ERRNO(syscall(SYS_memfd_create, (void *)1, 0), EFAULT);
}

/* ---- mincore ---- */

TEST(mincore, resident_after_touch)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    p[0] = 1;
    unsigned char vec[2] = { 0xff, 0xff };
    EXPECT_EQ(mincore(p, 2 * PG, vec), 0);
    EXPECT_EQ(vec[0] & 1, 1);
    EXPECT_EQ(vec[1] & 1, 0);
}

TEST(mincore, einval_unaligned)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    unsigned char vec[2];
    EXPECT_ERRNO(mincore(p + 1, 1, vec), EINVAL);
}

TEST(mincore, enomem_unmapped)
{
    char *p = unmapped_addr();
    unsigned char vec[2];
    EXPECT_ERRNO(mincore(p, PG, vec), ENOMEM);
}

TEST(mincore, efault_vec)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    p[0] = 1;
    EXPECT_ERRNO(mincore(p, PG, (unsigned char *)1), EFAULT);
}

/* ---- mlock / munlock / mlock2 / mlockall / munlockall ---- */

TEST(mlock, small_region_resident)
{
    char *p = map_anon(2 * PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ(mlock(p, 2 * PG), 0);
    unsigned char vec[2] = {0};
    EXPECT_EQ(mincore(p, 2 * PG, vec), 0);
    EXPECT_EQ(vec[0] & 1, 1);
    EXPECT_EQ(vec[1] & 1, 1);
    EXPECT_EQ(munlock(p, 2 * PG), 0);
}

TEST(mlock, enomem_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_ERRNO(mlock(p, PG), ENOMEM);
}

TEST(munlock, enomem_unmapped)
{
    char *p = unmapped_addr();
    EXPECT_ERRNO(munlock(p, PG), ENOMEM);
}

TEST(mlock2, onfault_ok_einval_bad_flags)
{
    char *p = map_anon(PG, PROT_READ | PROT_WRITE);
    EXPECT_EQ(syscall(SYS_mlock2, p, PG, MLOCK_ONFAULT), 0);
    EXPECT_EQ(munlock(p, PG), 0);
    EXPECT_ERRNO(syscall(SYS_mlock2, p, PG, 0x10), EINVAL);
}

TEST(mlockall, einval_bad_flags)
{
    EXPECT_ERRNO(mlockall(0), EINVAL);
    EXPECT_ERRNO(mlockall(MCL_ONFAULT), EINVAL);
}

TEST(munlockall, ok)
{
    EXPECT_EQ(munlockall(), 0);
}
