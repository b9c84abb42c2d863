# 1000 fork+exec of /bin/true from a shell loop.
i=0
while [ $i -lt 1000 ]; do /bin/true || echo "true failed at $i"; i=$((i + 1)); done
echo $i
