# tar + xz round trip: build a tree, tar it, compress it (2 threads),
# decompress, extract, and compare checksums.
set -eu
umask 022
mkdir -p tree/a/b tree/c
i=0
while [ $i -lt 40 ]; do
  awk -v n=$i 'BEGIN { for (j = 0; j < 500 + n * 97; j++) printf "%d %d %s\n", n, j, (n * j) % 7919 }' > "tree/a/file$i.txt"
  i=$((i + 1))
done
head -c 3000000 /usr/bin/perl > tree/c/binary
ln -s ../c/binary tree/a/b/link
chmod 600 tree/a/file7.txt
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf archive.tar tree
xz -T2 -6 -k archive.tar
xz -t archive.tar.xz && echo "xz test ok"
xz -l archive.tar.xz | awk 'NR == 2 { print "streams", $1, "blocks", $2 }'
mkdir out
xz -dc archive.tar.xz | tar -xf - -C out
(cd tree && find . -type f -exec sha256sum {} + | sort -k 2) > before.sum
(cd out/tree && sha256sum -c --quiet ../../before.sum) && echo "checksums match"
tar -tvf archive.tar | awk '{ print $1, $3, $NF }' | sort | head -5
sha256sum archive.tar archive.tar.xz
wc -l < before.sum
