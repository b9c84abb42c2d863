# git init / add / commit / gc / clone (of the local repo) / log, with fixed
# identities and dates so every object id is the same on every run.
set -eu
umask 022
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=Tester GIT_AUTHOR_EMAIL=t@example.invalid
export GIT_COMMITTER_NAME=Tester GIT_COMMITTER_EMAIL=t@example.invalid
git init -q -b main repo
cd repo
for c in 1 2 3 4 5; do
  export GIT_AUTHOR_DATE="2024-01-0$c 12:00:00 +0000" GIT_COMMITTER_DATE="2024-01-0$c 12:00:00 +0000"
  mkdir -p "dir$c/sub"
  seq 1 $((c * 2000)) > "dir$c/numbers.txt"
  echo "commit $c" > "dir$c/sub/readme"
  echo "line $c" >> log.txt
  [ $c = 3 ] && git rm -q dir1/sub/readme
  git add -A
  git commit -q -m "commit number $c"
done
git tag -a v1 -m "version one"
git gc -q
git count-objects -v | grep -E '^(count|in-pack|packs)'
git fsck --full 2>&1
cd ..
git clone -q repo clone
git -C clone log --format='%H %an %ad %s' --date=iso
git -C clone ls-files | wc -l
git -C clone describe --tags
git -C clone diff --stat HEAD~3 HEAD
git -C clone rev-parse HEAD^{tree}
