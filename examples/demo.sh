#!/bin/sh
# A demo program for keeper's example config: it prints a line a second,
# and a warning now and then on stderr.
i=0
while :; do
	i=$((i + 1))
	echo "demo: tick $i"
	if [ $((i % 5)) -eq 0 ]; then
		echo "demo: five ticks more" >&2
	fi
	sleep 1
done
