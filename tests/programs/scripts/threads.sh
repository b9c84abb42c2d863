# A pthread program: 8 threads, each writing, reading and checking its own
# files in /tmp.
set -u
./threads
echo "threads exit $?"
