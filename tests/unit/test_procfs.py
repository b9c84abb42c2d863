"""Unit tests for sentry/vfs/procfs.py, the synthesized /proc files."""
import os
import re

import pytest

from sentry.vfs import procfs
from sentry.vfs.procfs import View, online_cpus, render

MiB = 1 << 20

# A 16 GB, 4-cpu host with swap, as Linux 6.1 prints it.
MEMINFO = """\
MemTotal:       16318480 kB
MemFree:         9112764 kB
MemAvailable:   13201448 kB
Buffers:          412376 kB
Cached:          3698820 kB
SwapCached:        10240 kB
Active:          3411852 kB
Inactive:        2870428 kB
Active(anon):    2205908 kB
Inactive(anon):    71316 kB
Active(file):    1205944 kB
Inactive(file):  2799112 kB
Unevictable:       34188 kB
Mlocked:              16 kB
SwapTotal:       2097148 kB
SwapFree:        2086908 kB
Zswap:                 0 kB
Zswapped:              0 kB
Dirty:               532 kB
Writeback:             0 kB
AnonPages:       2204960 kB
Mapped:           739088 kB
Shmem:            104680 kB
KReclaimable:     337468 kB
Slab:             521556 kB
SReclaimable:     337468 kB
SUnreclaim:       184088 kB
KernelStack:       16128 kB
PageTables:        31316 kB
SecPageTables:         0 kB
NFS_Unstable:          0 kB
Bounce:                0 kB
WritebackTmp:          0 kB
CommitLimit:    10256388 kB
Committed_AS:    9876540 kB
VmallocTotal:   34359738367 kB
VmallocUsed:       66112 kB
VmallocChunk:          0 kB
Percpu:             5376 kB
HardwareCorrupted:     0 kB
AnonHugePages:    389120 kB
ShmemHugePages:        0 kB
ShmemPmdMapped:        0 kB
FileHugePages:         0 kB
FilePmdMapped:         0 kB
HugePages_Total:       0
HugePages_Free:        0
HugePages_Rsvd:        0
HugePages_Surp:        0
Hugepagesize:       2048 kB
Hugetlb:               0 kB
DirectMap4k:      464664 kB
DirectMap2M:    10778624 kB
DirectMap1G:     6291456 kB
"""

CPU_BLOCK = """\
processor\t: {n}
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 142
model name\t: Intel(R) Core(TM) i7-8565U CPU @ 1.80GHz
stepping\t: 12
microcode\t: 0xf8
cpu MHz\t\t: 1992.001
cache size\t: 8192 KB
physical id\t: 0
siblings\t: 8
core id\t\t: {n}
cpu cores\t: 4
apicid\t\t: {apic}
initial apicid\t: {apic}
fpu\t\t: yes
fpu_exception\t: yes
cpuid level\t: 22
wp\t\t: yes
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch avx2 smep bmi2 erms invpcid mpx rdseed adx smap clflushopt intel_pt xsaveopt xsavec xgetbv1 xsaves md_clear flush_l1d arch_capabilities
vmx flags\t: vnmi preemption_timer invvpid ept_x_only ept_ad ept_1gb flexpriority tsc_offset vtpr mtf vapic ept vpid unrestricted_guest ple pml ept_mode_based_exec
bugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs itlb_multihit srbds mmio_stale_data retbleed eibrs_pbrsb gds
bogomips\t: 3999.93
clflush size\t: 64
cache_alignment\t: 64
address sizes\t: 39 bits physical, 48 bits virtual
power management:

"""
CPUINFO = "".join(CPU_BLOCK.format(n=n, apic=2 * n) for n in range(4))

STAT = """\
cpu  1342218 3161 431957 40193412 51338 0 14245 0 0 0
cpu0 337011 814 108632 10034621 12874 0 7915 0 0 0
cpu1 335120 773 107711 10052208 12919 0 2247 0 0 0
cpu2 334805 791 107901 10053194 12688 0 2198 0 0 0
cpu3 335282 783 107713 10053389 12857 0 1885 0 0 0
intr 89213311 9 0 0 0 0 0 0 0 1 0 0 0 0 0 0 0 156 0 0 0 0 0 0 0 0 0 0 0
ctxt 178832019
btime 1718611403
processes 512448
procs_running 3
procs_blocked 1
softirq 47815630 4 9843152 1721 1032446 0 0 12 20218811 102 16719382
"""

HOST = {"meminfo": MEMINFO, "cpuinfo": CPUINFO, "stat": STAT,
        "uptime": "350211.27 1389140.04\n", "loadavg": "1.02 0.87 0.66 3/1021 81234\n"}

MOUNTS = [
    ("/dev/sda1", "/", "ext4", "ro,relatime"),
    ("proc", "/proc", "proc", "rw,nosuid,nodev,noexec,relatime"),
    ("tmpfs", "/dev", "tmpfs", "rw,nosuid,size=65536k,mode=755"),
    ("devpts", "/dev/pts", "devpts", "rw,nosuid,noexec,gid=5,mode=620,ptmxmode=666"),
    ("tmpfs", "/tmp", "tmpfs", "rw,nosuid,nodev"),
    ("/home/u/my data", "/data/my data", "ext4", "ro,relatime"),
    ("tmpfs", "/tmp", "tmpfs", "rw"),      # stacked on the first /tmp
]


def fake_read(name):
    return HOST[name].encode()


def view(**kw):
    base = dict(read_host=fake_read, memory_limit=None, memory_usage=None, cpus=None,
                uptime=12.5, nr_threads=7, nr_running=2, last_pid=42,
                hostname="box", mounts=MOUNTS)
    base.update(kw)
    return View(**base)


def kb(text, key):
    return int(re.search(rf"^{re.escape(key)}:\s+(\d+)", text, re.M)[1])


def keys(text):
    return [line.split(":")[0] for line in text.splitlines()]


# --- meminfo ------------------------------------------------------------------

def test_meminfo_no_limit_is_the_host_file():
    assert render("/proc/meminfo", view()) == MEMINFO.encode()
    assert render("/proc/meminfo", view(memory_limit=0)) == MEMINFO.encode()


def test_meminfo_limit_at_or_above_host_changes_nothing():
    assert render("/proc/meminfo", view(memory_limit=64 << 30, memory_usage=MiB)) == MEMINFO.encode()


def test_meminfo_limit_applied():
    out = render("/proc/meminfo", view(memory_limit=512 * MiB, memory_usage=100 * MiB)).decode()
    assert keys(out) == keys(MEMINFO)
    assert kb(out, "MemTotal") == 524288
    assert kb(out, "MemFree") == 412 * 1024
    assert kb(out, "MemAvailable") == 412 * 1024
    assert kb(out, "SwapTotal") == kb(out, "SwapFree") == kb(out, "SwapCached") == 0
    used = 100 * 1024
    for key in ("Cached", "Active", "Inactive(file)", "AnonPages", "Slab"):
        assert kb(out, key) == used, key      # each host value exceeds usage
    # free(1) subtracts Buffers + Cached + SReclaimable from used: all of the
    # cache is counted as Cached so the sum fits.
    for key in ("Buffers", "SReclaimable"):
        assert kb(out, key) == 0, key
    assert kb(out, "Buffers") + kb(out, "Cached") + kb(out, "SReclaimable") <= used
    assert kb(out, "Shmem") == 100 * 1024
    assert kb(out, "KernelStack") == 16128    # already below: unchanged
    # Not amounts of RAM: the host's.
    for key in ("VmallocTotal", "CommitLimit", "Hugepagesize", "DirectMap1G"):
        assert kb(out, key) == kb(MEMINFO, key)
    assert "HugePages_Total:       0" in out.splitlines()


def test_meminfo_keeps_the_kernel_columns():
    out = render("/proc/meminfo", view(memory_limit=256 * MiB, memory_usage=300 * MiB)).decode()
    lines = out.splitlines()
    assert "MemTotal:         262144 kB" in lines
    assert "MemFree:               0 kB" in lines     # usage over the limit
    assert "SwapTotal:             0 kB" in lines
    for line in lines:
        if line.endswith(" kB") and not line.startswith(("VmallocTotal", "HardwareCorrupted")):
            assert len(line) == 16 + 8 + 3, line
    assert out.endswith(" kB\n")


def test_meminfo_unknown_usage():
    out = render("/proc/meminfo", view(memory_limit=1 << 30)).decode()
    assert kb(out, "MemTotal") == kb(out, "MemFree") == 1 << 20
    assert kb(out, "Buffers") == 0            # folded into Cached
    assert kb(out, "Cached") == 1 << 20       # above MemTotal: clamped


def test_meminfo_of_this_machine():
    def read_host(name):
        with open(f"/proc/{name}", "rb") as f:
            return f.read()
    host = read_host("meminfo").decode()
    if kb(host, "MemTotal") <= 256 * 1024:
        pytest.skip("this machine has no more than 256 MiB")
    for usage in (None, 10 * MiB):
        out = render("/proc/meminfo", view(read_host=read_host, memory_limit=256 * MiB,
                                           memory_usage=usage)).decode()
        assert kb(out, "MemTotal") == 262144
        assert re.search(r"^MemTotal:\s+262144 kB$", out, re.M)
        assert keys(out) == keys(host)
        for line in out.splitlines():
            if line.endswith(" kB") and not re.match(r"Vmalloc|Commit|Hugepagesize|DirectMap", line):
                assert kb(out, line.split(":")[0]) <= 262144, line


# --- cpus ---------------------------------------------------------------------

@pytest.mark.parametrize("cpus, host, want", [
    (None, 4, 4), (0.5, 4, 1), (1.0, 4, 1), (1.5, 4, 2), (2.01, 4, 3), (3.0, 4, 3),
    (4.0, 4, 4), (64, 4, 4), (0, 4, 1), (0.001, 4, 1), (None, 1, 1), (None, 0, 1), (2, 0, 1),
])
def test_online_cpus(cpus, host, want):
    assert online_cpus(cpus, host) == want


def processors(text):
    return [int(n) for n in re.findall(r"^processor\t: (\d+)$", text, re.M)]


@pytest.mark.parametrize("cpus, n", [(0.5, 1), (1.5, 2), (3, 3), (None, 4), (16, 4)])
def test_cpuinfo_shows_n_processors(cpus, n):
    out = render("/proc/cpuinfo", view(cpus=cpus)).decode()
    assert processors(out) == list(range(n))
    assert out.count("model name\t: Intel(R) Core(TM) i7-8565U") == n
    assert re.findall(r"^siblings\t: (\d+)$", out, re.M) == [str(n)] * n
    assert re.findall(r"^cpu cores\t: (\d+)$", out, re.M) == [str(n)] * n
    assert out.endswith("power management:\n\n")
    blocks = out.split("\n\n")
    assert blocks[-1] == "" and len(blocks) == n + 1


def test_cpuinfo_unlimited_only_rewrites_topology():
    out = render("/proc/cpuinfo", view()).decode()
    assert out == CPUINFO.replace("siblings\t: 8", "siblings\t: 4")


def test_cpuinfo_renumbers():
    host = "".join(CPU_BLOCK.format(n=n, apic=n) for n in (2, 5, 7))   # sparse ids
    out = render("/proc/cpuinfo", view(read_host=lambda _: host.encode(), cpus=2)).decode()
    assert processors(out) == [0, 1]
    assert "apicid\t\t: 5" in out and "apicid\t\t: 7" not in out


def cpu_lines(text):
    return {line.split()[0]: [int(v) for v in line.split()[1:]]
            for line in text.splitlines() if line.startswith("cpu")}


@pytest.mark.parametrize("cpus, n", [(0.5, 1), (1.5, 2), (None, 4)])
def test_stat_cpu_lines(cpus, n):
    out = render("/proc/stat", view(cpus=cpus)).decode()
    host = cpu_lines(STAT)
    lines = cpu_lines(out)
    assert list(lines) == ["cpu"] + [f"cpu{i}" for i in range(n)]
    for i in range(n):
        assert lines[f"cpu{i}"] == host[f"cpu{i}"]
    assert lines["cpu"] == [sum(col) for col in zip(*(host[f"cpu{i}"] for i in range(n)))]
    assert out.startswith("cpu  ")            # the kernel's two spaces


def test_stat_other_lines():
    out = render("/proc/stat", view(cpus=1, nr_running=5)).decode()
    lines = out.splitlines()
    assert "procs_running 5" in lines
    assert "procs_blocked 0" in lines
    for keep in ("btime 1718611403", "ctxt 178832019", "processes 512448"):
        assert keep in lines
    assert [x.split()[0] for x in lines] == ["cpu", "cpu0", "intr", "ctxt", "btime",
                                             "processes", "procs_running", "procs_blocked",
                                             "softirq"]
    assert out.endswith("\n")


def test_uptime():
    assert render("/proc/uptime", view(uptime=12.5)) == b"12.50 50.00\n"
    assert render("/proc/uptime", view(uptime=100.004, cpus=1.5)) == b"100.00 200.01\n"


def test_loadavg():
    assert render("/proc/loadavg", view()) == b"0.00 0.00 0.00 2/7 42\n"


def test_hostname():
    assert render("/proc/sys/kernel/hostname", view(hostname="sandbox-1")) == b"sandbox-1\n"


# --- mounts -------------------------------------------------------------------

MOUNT_PATHS = ["/proc/mounts", "/proc/1/mounts", "/proc/12/mounts", "/proc/12/task/13/mounts"]
MOUNTINFO_PATHS = ["/proc/1/mountinfo", "/proc/12/mountinfo", "/proc/12/task/12/mountinfo"]


@pytest.mark.parametrize("path", MOUNT_PATHS)
def test_mounts(path):
    out = render(path, view()).decode()
    lines = out.splitlines()
    assert lines[0] == "/dev/sda1 / ext4 ro,relatime 0 0"
    assert lines[1] == "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0"
    assert r"/home/u/my\040data /data/my\040data ext4 ro,relatime 0 0" in lines
    assert len(lines) == len(MOUNTS)
    assert all(len(line.split(" ")) == 6 for line in lines)


def test_escape():
    assert procfs.escape("a b\tc\nd\\e") == rb"a\040b\011c\012d\134e"
    assert procfs.escape("\\040") == rb"\134040"       # not mistaken for an escape
    assert procfs.escape(os.fsdecode(b"caf\xe9")) == b"caf\xe9"
    assert procfs.escape("plain/path") == b"plain/path"


@pytest.mark.parametrize("path", MOUNTINFO_PATHS)
def test_mountinfo(path):
    lines = render(path, view()).decode().splitlines()
    assert len(lines) == len(MOUNTS)
    rows = []
    for line in lines:
        fields = line.split(" ")
        assert len(fields) == 10
        assert fields[6] == "-"                  # no optional fields
        before, after = line.split(" - ")
        assert len(before.split(" ")) == 6 and len(after.split(" ")) == 3
        rows.append(fields)
    ids = [int(f[0]) for f in rows]
    parents = [int(f[1]) for f in rows]
    assert ids == list(range(1, len(MOUNTS) + 1))
    # /, /proc, /dev, /dev/pts, /tmp, /data/my data, /tmp again
    assert parents == [1, 1, 1, 3, 1, 1, 5]
    assert all(f[2] == "0:0" and f[3] == "/" for f in rows)
    assert rows[0][4:] == ["/", "ro,relatime", "-", "ext4", "/dev/sda1", "ro"]
    assert rows[3][4:] == ["/dev/pts", "rw,nosuid,noexec,gid=5,mode=620,ptmxmode=666",
                           "-", "devpts", "devpts", "rw"]
    assert rows[5][4] == r"/data/my\040data" and rows[5][8] == r"/home/u/my\040data"
    assert rows[5][9] == "ro"


def test_mountinfo_nesting_is_by_path_component():
    mounts = [("r", "/", "ext4", "rw"), ("a", "/a", "tmpfs", "rw"),
              ("b", "/ab", "tmpfs", "rw"), ("c", "/a/b/c", "tmpfs", "rw"),
              ("d", "/a/b", "tmpfs", "rw"), ("e", "/a/b/c", "tmpfs", "rw")]
    lines = render("/proc/5/mountinfo", view(mounts=mounts)).decode().splitlines()
    assert [int(line.split()[1]) for line in lines] == [1, 1, 1, 2, 2, 5]


def test_mountinfo_is_stable():
    assert render("/proc/3/mountinfo", view()) == render("/proc/3/mountinfo", view())


def test_no_source_is_none():
    out = render("/proc/mounts", view(mounts=[("", "/", "tmpfs", "rw")]))
    assert out == b"none / tmpfs rw 0 0\n"


# --- dispatch -------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/proc/self/mounts", "/proc/self/mountinfo", "/proc/self/status",
    "/proc/thread-self/mountinfo", "/proc/self/task/1/mountinfo", "/proc/1/status",
    "/proc/012/mounts", "/proc/0/mounts", "/proc/12/mountstats", "/proc/12/task/mounts",
    "/proc/meminfo/", "/proc//meminfo", "proc/meminfo", "/proc/12/mounts/x",
    "/proc/sys/kernel/domainname", "/etc/hostname", "/proc", "",
])
def test_not_synthesized(path):
    assert render(path, view()) is None
    assert not procfs.is_synthesized(path)


def test_synthesized_set():
    assert procfs.SYNTHESIZED == {
        "/sys/devices/system/cpu/online", "/proc/version", "/proc/sys/kernel/osrelease",
        "/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/uptime",
        "/proc/loadavg", "/proc/mounts", "/proc/sys/kernel/hostname"}
    for path in sorted(procfs.SYNTHESIZED) + MOUNT_PATHS + MOUNTINFO_PATHS:
        assert procfs.is_synthesized(path)
        assert isinstance(render(path, view()), bytes)


def test_host_files_read_only_when_needed():
    asked = []
    v = view(read_host=lambda name: asked.append(name) or HOST[name].encode())
    for path in ("/proc/loadavg", "/proc/mounts", "/proc/1/mountinfo", "/proc/sys/kernel/hostname"):
        render(path, v)
    assert asked == []
