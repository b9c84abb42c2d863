"""Real programs, each run natively and then in the sandbox with the same
inputs in the same (bound) working directory: exit code, stdout and the
files they leave must be identical (programs_harness.py).  Every test
first checks that the native run really did the work, so a program that
fails the same way in both places fails the test too.

The programs and what they exercise: nginx with 2 workers that setuid to
nobody, python's threading http.server, redis, git, sqlite3, gcc + make
-j2, tar + xz, an 8-thread C program doing file I/O, a 1000-fork shell
loop, perl and node.  make setup installs them all (APT_PACKAGES).
"""

from programs_harness import HERE, Program, assert_same, free_port, run_both

SRC = HERE / "src"
CPROJ = HERE / "cproj"


def test_nginx_workers_serve_static_files():
    """nginx: root master, 2 workers running as nobody, 9 requests from curl."""
    index = "<html><body>hello from nginx in pysandbox</body></html>\n"
    big = bytes((i * 7 + i // 251) % 256 for i in range(300_000))
    native, sandbox = run_both(Program("nginx.sh", {"index.html": index, "big.bin": big},
                                       env={"PORT": str(free_port())}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=(
        "nginx up: yes", "workers: 2 nobody", "index.html 200 56", "big.bin 200 300000",
        "missing 404", "nginx exit 0"), min_files=10)


def test_python_threading_http_server():
    """python3 -m http.server, 8 concurrent client requests at a time."""
    www = {f"www/file{i:02d}.dat": bytes((i + j) % 251 for j in range(1000 + i * 4099)) for i in range(24)}
    www["www/index.txt"] = "not an index.html, so / is a listing\n"
    native, sandbox = run_both(Program("http_server.sh", www, env={"PORT": str(free_port())}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=(
        "file23.dat 200 95277", "nope 404", "listing entries 25", "client exit 0",
        "server killed by signal 15"), min_files=50)


def test_redis_server_and_cli():
    """redis-server + redis-cli: 300 SETs, GET/MGET/INCR/lists, INFO keyspace, SAVE."""
    native, sandbox = run_both(Program("redis.sh", env={"PORT": str(free_port())}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=(
        "redis up: yes", "300 OK", "value-299-89401", "db0:keys=302", "302 keys read",
        "redis exit 0"))


def test_git_commit_gc_clone_log():
    """git init/add/commit/tag/gc/fsck/clone/log with fixed dates: same object ids."""
    native, sandbox = run_both(Program("git.sh", timeout=60,
                                       ignore=("repo/.git", "clone/.git")))
    assert_same(native, sandbox, expect_in_stdout=("commit number 5", "packs: 1", "v1"),
                min_files=10)


def test_sqlite_100k_rows():
    """sqlite3: 100k INSERTs in one transaction, index, aggregates, VACUUM."""
    native, sandbox = run_both(Program("sqlite.sh", timeout=90))
    assert_same(native, sandbox, expect_in_stdout=("100000|", "ok\n"), min_files=1)


def test_gcc_make_parallel_build():
    """make -j2 of a 5-file C project with a header; objects and binary identical."""
    proj = {f"proj/{p.name}": p for p in sorted(CPROJ.iterdir())}
    native, sandbox = run_both(Program("gcc_make.sh", proj, timeout=120))
    assert_same(native, sandbox, expect_in_stdout=("words,", "self-test: ok"), min_files=12)


def test_tar_xz_round_trip():
    """tar c, xz -T2, xz -t/-l/-d, tar x: checksums and archives identical."""
    native, sandbox = run_both(Program("tar_xz.sh", timeout=90))
    assert_same(native, sandbox, expect_in_stdout=("xz test ok", "checksums match"), min_files=80)


def test_pthreads_file_io(cc):
    """8 threads, each creating/writing/renaming/stat()ing/reading/unlinking
    40 files of its own in /tmp."""
    exe = cc((SRC / "threads.c").read_text(), "programs_threads")
    native, sandbox = run_both(Program("threads.sh", {"threads": exe}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=("thread 7 checksum", "threads exit 0"))


def test_thousand_forks():
    """A shell loop forking and exec'ing /bin/true 1000 times."""
    native, sandbox = run_both(Program("forks.sh", timeout=90))
    assert_same(native, sandbox, expect_in_stdout=("1000\n",))


def test_perl_file_io_regex_sort():
    """perl: 10 generated logs, a directory walk, regexes, sorts, rename, unlink."""
    native, sandbox = run_both(Program("perl.sh", {"prog.pl": SRC / "prog.pl"}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=("lines 20000", "perl exit 0"), min_files=10)


def test_node_fs_and_child_process():
    """node: fs (sync and promises), crypto, spawn/execFileSync/spawnSync."""
    native, sandbox = run_both(Program("node.sh", {"prog.js": SRC / "prog.js"}, timeout=60))
    assert_same(native, sandbox, expect_in_stdout=(
        "files 50", "sort exit 0: 1,4,30,200", "node child status 3 stdout linux 42", "node exit 0"),
        min_files=50)
