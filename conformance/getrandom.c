#include "harness.h"
/* Randomness: getrandom(2) and the /dev/urandom and /dev/random devices. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>

#ifndef GRND_NONBLOCK
#define GRND_NONBLOCK 0x0001
#endif
#ifndef GRND_RANDOM
#define GRND_RANDOM 0x0002
#endif
#ifndef GRND_INSECURE
#define GRND_INSECURE 0x0004
#endif

static long grnd(void *buf, size_t len, unsigned flags)
{
    return syscall(SYS_getrandom, buf, len, flags);
}

static int all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

TEST(getrandom, flags_zero)
{
    unsigned char a[32] = { 0 }, b[32] = { 0 };
    EXPECT_EQ(grnd(a, sizeof a, 0), 32);
    EXPECT_EQ(grnd(b, sizeof b, 0), 32);
    EXPECT_TRUE(!all_zero(a, sizeof a));
    EXPECT_TRUE(memcmp(a, b, sizeof a) != 0);
}

TEST(getrandom, nonblock)
{
    unsigned char a[64] = { 0 };
    /* The pool is initialised long before any test runs: no EAGAIN. */
    EXPECT_EQ(grnd(a, sizeof a, GRND_NONBLOCK), 64);
    EXPECT_TRUE(!all_zero(a, sizeof a));
}

TEST(getrandom, grnd_random)
{
    unsigned char a[16] = { 0 };
    EXPECT_EQ(grnd(a, sizeof a, GRND_RANDOM), 16);
    EXPECT_EQ(grnd(a, sizeof a, GRND_RANDOM | GRND_NONBLOCK), 16);
    EXPECT_TRUE(!all_zero(a, sizeof a));
}

TEST(getrandom, grnd_insecure)
{
    unsigned char a[16] = { 0 };
    EXPECT_EQ(grnd(a, sizeof a, GRND_INSECURE), 16);
    EXPECT_ERRNO(grnd(a, sizeof a, GRND_INSECURE | GRND_RANDOM), EINVAL);
}

TEST(getrandom, einval_bad_flags)
{
    unsigned char a[16];
    EXPECT_ERRNO(grnd(a, sizeof a, 0x8), EINVAL);
    EXPECT_ERRNO(grnd(a, sizeof a, 0x80000000u), EINVAL);
}

TEST(getrandom, efault)
{
    EXPECT_ERRNO(grnd((void *)1, 16, 0), EFAULT);
    EXPECT_ERRNO(grnd(NULL, 1, 0), EFAULT);
}

TEST(getrandom, efault_readonly_page)
{
    void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_ERRNO(grnd(p, 16, 0), EFAULT);
    EXPECT_TRUE(all_zero(p, 4096));
}

TEST(getrandom, partial_at_page_end)
{
    /* The second page is inaccessible: the bytes that fit are returned. */
    unsigned char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_TRUE(p != MAP_FAILED);
    EXPECT_OK(mprotect(p + 4096, 4096, PROT_NONE));
    EXPECT_EQ(grnd(p + 4096 - 8, 64, 0), 8);
}

TEST(getrandom, length_zero)
{
    unsigned char a[1] = { 0x5a };
    EXPECT_EQ(grnd(a, 0, 0), 0);
    EXPECT_EQ(a[0], 0x5a);
    EXPECT_EQ(grnd(NULL, 0, 0), 0);
}

TEST(getrandom, lengths)
{
    static unsigned char big[1 << 20];
    size_t lens[] = { 1, 7, 255, 256, 257, 4096, 65536 };
    for (unsigned i = 0; i < sizeof lens / sizeof *lens; i++)
        EXPECT_EQ(grnd(big, lens[i], 0), lens[i]);
    EXPECT_EQ(grnd(big, sizeof big, 0), sizeof big);
}

TEST(getrandom, bit_balance)
{
    static unsigned char b[8192];
    EXPECT_EQ(grnd(b, sizeof b, 0), sizeof b);
    long ones = 0;
    for (size_t i = 0; i < sizeof b; i++)
        ones += __builtin_popcount(b[i]);
    /* 65536 bits: mean 32768, sd 128; 2000 is more than 15 sd. */
    EXPECT_TRUE(ones > 32768 - 2000 && ones < 32768 + 2000);
}

/* ---- the devices ---- */

TEST(read, dev_urandom)
{
    int fd = open("/dev/urandom", O_RDONLY);
    EXPECT_OK(fd);
    unsigned char a[64] = { 0 }, b[64] = { 0 };
    EXPECT_EQ(read(fd, a, sizeof a), 64);
    EXPECT_EQ(read(fd, b, sizeof b), 64);
    EXPECT_TRUE(!all_zero(a, sizeof a));
    EXPECT_TRUE(memcmp(a, b, sizeof a) != 0);
    EXPECT_EQ(read(fd, a, 0), 0);
}

TEST(read, dev_random_nonblock)
{
    int fd = open("/dev/random", O_RDONLY | O_NONBLOCK);
    EXPECT_OK(fd);
    unsigned char a[32] = { 0 };
    EXPECT_EQ(read(fd, a, sizeof a), 32);
    EXPECT_TRUE(!all_zero(a, sizeof a));
}

TEST(read, dev_urandom_efault)
{
    int fd = open("/dev/urandom", O_RDONLY);
    EXPECT_OK(fd);
    EXPECT_ERRNO(syscall(SYS_read, fd, (void *)1, 16), EFAULT);
}

TEST(openat, dev_urandom_is_char_1_9)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    EXPECT_OK(fd);
    struct stat st;
    EXPECT_OK(fstat(fd, &st));
    EXPECT_TRUE(S_ISCHR(st.st_mode));
    EXPECT_EQ(major(st.st_rdev), 1);
    EXPECT_EQ(minor(st.st_rdev), 9);
    EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
}

TEST(lseek, dev_urandom_ignored)
{
    int fd = open("/dev/urandom", O_RDONLY);
    EXPECT_OK(fd);
    EXPECT_EQ(lseek(fd, 100, SEEK_SET), 0);
}
