# gcc + make -j2 of the C project in ./proj, then run what it built.
set -eu
umask 022
make -s -C proj -j2
./proj/wordstats proj/*.c proj/*.h
./proj/wordstats --self-test
