/* Landlock: a program restricting its own file access (landlock_create_ruleset,
 * landlock_add_rule, landlock_restrict_self; Linux 5.13).  Some build tools,
 * sandboxed services and language runtimes (Go's, Rust's) use it.  The
 * domain binds the calling process and its descendants, and the kernel
 * checks it on every path the process opens or makes.  In the default fs
 * mode those calls run natively (mknod too: the sentry only refuses device
 * nodes), so the domain binds them; under --strict-fs the sentry makes
 * them, and could not honour it, so Landlock is refused there as a kernel
 * with Landlock disabled refuses it (EOPNOTSUPP; expected-failures.txt). */
#include "harness.h"
#include "helpers.h"
#include <linux/landlock.h>
#include <sys/prctl.h>

static int ruleset(__u64 handled)
{
    struct landlock_ruleset_attr a = { .handled_access_fs = handled };
    return (int)syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
}

static void allow_beneath(int rs, const char *dir, __u64 access)
{
    struct landlock_path_beneath_attr pb = { .allowed_access = access, .parent_fd = open(dir, O_PATH | O_CLOEXEC) };
    if (pb.parent_fd < 0) SB_FAIL("open %s: %s", dir, sb_errname(errno));
    if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0))
        SB_FAIL("landlock_add_rule: %s", sb_errname(errno));
    close(pb.parent_fd);
}

static void restrict_self(int rs)
{
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) SB_FAIL("no_new_privs: %s", sb_errname(errno));
    if (syscall(SYS_landlock_restrict_self, rs, 0)) SB_FAIL("landlock_restrict_self: %s", sb_errname(errno));
    close(rs);
}

#define RW (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE)
#define MAKE (LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_FIFO | \
              LANDLOCK_ACCESS_FS_REMOVE_FILE)

TEST(landlock_create_ruleset, abi_version)
{
    long v = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    EXPECT_TRUE(v >= 1);
    struct landlock_ruleset_attr a = { .handled_access_fs = LANDLOCK_ACCESS_FS_READ_FILE };
    EXPECT_ERRNO(syscall(SYS_landlock_create_ruleset, &a, sizeof a, 1u << 30), EINVAL);   /* unknown flag */
}

TEST(landlock_restrict_self, opens_outside_the_allowed_tree_are_eacces)
{
    scratch();
    EXPECT_OK(mkdir(P("in"), 0755));
    EXPECT_OK(mkfile(P("in/f"), "inside\n"));
    EXPECT_OK(mkfile(P("out"), "outside\n"));
    int rs;
    EXPECT_OK(rs = ruleset(RW));
    allow_beneath(rs, P("in"), RW);
    restrict_self(rs);
    int fd;
    EXPECT_OK(fd = open(P("in/f"), O_RDWR));
    close(fd);
    EXPECT_ERRNO(open(P("out"), O_RDONLY), EACCES);
    EXPECT_ERRNO(open(P("out"), O_WRONLY | O_APPEND), EACCES);
    EXPECT_ERRNO(open("/etc/passwd", O_RDONLY), EACCES);
    EXPECT_ERRNO(openat(AT_FDCWD, P("out"), O_RDONLY), EACCES);
}

TEST(landlock_restrict_self, making_and_removing_outside_are_eacces)
{
    scratch();
    EXPECT_OK(mkdir(P("in"), 0755));
    EXPECT_OK(mkfile(P("victim"), "x"));
    int rs;
    EXPECT_OK(rs = ruleset(MAKE));
    allow_beneath(rs, P("in"), MAKE);
    restrict_self(rs);
    EXPECT_OK(mkdir(P("in/d"), 0755));
    int fd;
    EXPECT_OK(fd = open(P("in/new"), O_CREAT | O_WRONLY, 0644));
    close(fd);
    EXPECT_OK(unlink(P("in/new")));
    EXPECT_ERRNO(mkdir(P("d"), 0755), EACCES);
    EXPECT_ERRNO(open(P("new"), O_CREAT | O_WRONLY, 0644), EACCES);
    EXPECT_ERRNO(unlink(P("victim")), EACCES);
    EXPECT_ERRNO(mknod(P("fifo"), S_IFIFO | 0644, 0), EACCES);
    EXPECT_OK(mknod(P("in/fifo"), S_IFIFO | 0644, 0));
    EXPECT_ERRNO(mknod(P("plain"), 0644, 0), EACCES);      /* type 0: a regular file */
}

TEST(landlock_restrict_self, binds_children_and_cannot_be_undone)
{
    scratch();
    EXPECT_OK(mkfile(P("f"), "x"));
    int rs;
    EXPECT_OK(rs = ruleset(LANDLOCK_ACCESS_FS_READ_FILE));
    restrict_self(rs);                           /* no rule: nothing readable */
    pid_t pid = fork();
    EXPECT_OK(pid);
    if (pid == 0)
        _exit(open(P("f"), O_RDONLY) == -1 && errno == EACCES ? 0 : 1);
    int st = reap(pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    int again;
    EXPECT_OK(again = ruleset(LANDLOCK_ACCESS_FS_READ_FILE));
    allow_beneath(again, D, LANDLOCK_ACCESS_FS_READ_FILE);
    restrict_self(again);                        /* domains only stack */
    EXPECT_ERRNO(open(P("f"), O_RDONLY), EACCES);
}

TEST(landlock_add_rule, einval_and_ebadf)
{
    int rs;
    EXPECT_OK(rs = ruleset(LANDLOCK_ACCESS_FS_READ_FILE));
    struct landlock_path_beneath_attr pb = { .allowed_access = LANDLOCK_ACCESS_FS_WRITE_FILE,
                                             .parent_fd = open("/tmp", O_PATH) };
    /* an access the ruleset does not handle */
    EXPECT_ERRNO(syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0), EINVAL);
    pb.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE;
    EXPECT_ERRNO(syscall(SYS_landlock_add_rule, rs, 99, &pb, 0), EINVAL);
    pb.parent_fd = -1;
    EXPECT_ERRNO(syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0), EBADF);
    EXPECT_ERRNO(syscall(SYS_landlock_restrict_self, -1, 0), EBADF);
}
