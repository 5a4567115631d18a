#!/bin/sh
# A task that follows scavenge's signal checkpoint protocol: it counts,
# saves its count and exits 85 when asked (SIGUSR2), and goes on from the
# saved count when resumed.
dir=${SCAVENGE_CHECKPOINT_DIR:?not run by scavenge}
i=0
[ "$SCAVENGE_RESUMED" = 1 ] && i=$(cat "$dir/count")
trap 'echo "$i" > "$dir/count"; exit 85' USR2
echo ready
# One command prints and counts, so the trap never falls between the two.
while :; do echo "$((i += 1))"; sleep 0.01; done
