# perl: file I/O, regexes, sort, hashes, a directory walk, Digest::MD5.
set -u
umask 022
perl prog.pl
echo "perl exit $?"
