#!/usr/bin/env sh
# The flows' end-to-end tests on N random chaos seeds in a row (not part of `make test`):
# each seed varies every page load of the mock sites differently (the full tier of those tests). Prints each seed and how
# it went; a failing seed replays with `pytest --chaos-seed SEED <test>`.
#   scripts/chaos-seeds.sh [N] [pytest args…]     (default: 20 seeds, every flow's tests)
set -u
runs=${1:-20}
[ $# -gt 0 ] && shift
tests=${*:-$(ls tests/test_*_flow.py tests/test_*_flows.py tests/test_late_pages.py tests/test_list_shapes.py)}
failed=0
i=1
while [ "$i" -le "$runs" ]; do
  seed=$(od -An -N3 -tu4 /dev/urandom | tr -d ' ')
  started=$(date +%s)
  # shellcheck disable=SC2086
  if sh scripts/pytest.sh -q --all -p no:cacheprovider --chaos-seed "$seed" $tests > "/tmp/chaos-seed-$seed.log" 2>&1; then
    echo "seed $seed: passed ($(tail -n 1 "/tmp/chaos-seed-$seed.log" | tr -d '=')) in $(( $(date +%s) - started )) s"
  else
    failed=$((failed + 1))
    echo "seed $seed: FAILED, see /tmp/chaos-seed-$seed.log:"
    grep -E '^(FAILED|ERROR)' "/tmp/chaos-seed-$seed.log" | sed 's/^/  /'
  fi
  i=$((i + 1))
done
echo "$runs seeds, $failed failed"
[ "$failed" = 0 ]
