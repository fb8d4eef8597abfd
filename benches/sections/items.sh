# Section `items` of benches/bench.sh: item granularity against file granularity over a real
# history. The last ITEMS_COMMITS (default 40) first-parent commits of ITEMS_REPO (default this
# repository) are replayed one by one into fresh repositories, after the commit before them
# (analysed in full, not counted: what every later commit re-sends is the figure), with the
# commit hook installed:
# the commit's files replace the work tree, `analyze --all -t refactor` runs against the fake
# server (examples/fake_llm_server.rs, which logs each request's bytes and items), and the
# commit is made (the hook carries the new entries and prunes those of replaced content). Then
# each replay repository is packed with `git gc --aggressive`, against one replaying the
# sources alone.
SRC=${ITEMS_REPO:-$ROOT}
NC=${ITEMS_COMMITS:-40}
mapfile -t commits < <(git -C "$SRC" rev-list --first-parent --reverse -n "$((NC + 1))" HEAD)
paid_on
# The replay's own server, logging what each request sends.
kill "$FAKE_PID" 2>/dev/null || true
replay() { # replay MODE: MODE is file, item or none (sources only)
  local mode=$1 R=$WORK/items-$1 log=$WORK/items-$1.log
  rm -rf "$R" "$log" && mkdir -p "$R" && git -C "$R" init -q -b main
  rm -f "$WORK/fake-llm.port"
  # Unique prose answers (FAKE_LLM_PROSE): what a model's results cost a history.
  FAKE_LLM_PROSE=${FAKE_LLM_PROSE:-1} "$ROOT/target/release/examples/fake_llm_server" 0 "$log" >"$WORK/fake-llm.port" &
  local pid=$!
  while [ ! -s "$WORK/fake-llm.port" ]; do sleep 0.05; done
  export RUSTASSISTANT_BASE_URL="http://127.0.0.1:$(cat "$WORK/fake-llm.port")/v1"
  if [ "$mode" != none ]; then
    mkdir -p "$R/.rustassistant"
    printf '[analysis]\ntypes = ["refactor"]\ngranularity = "%s"\n' "$mode" >"$R/.rustassistant/config.toml"
    (cd "$R" && "$BIN" hooks install -q >/dev/null)
  fi
  local t0=${EPOCHREALTIME/./} failed=0 base=0 n=0 base_pack=0
  for c in "${commits[@]}"; do
    (cd "$R" && git ls-files -z -- . ':!.rustassistant' | xargs -0 rm -f --)
    git -C "$SRC" archive "$c" | tar -x -C "$R" --exclude=.rustassistant
    # Staged first, as before a commit: deleted files are then gone from the index too.
    (cd "$R" && git add -A)
    if [ "$mode" != none ]; then
      (cd "$R" && "$BIN" analyze --all -t refactor -q --jobs 4 >/dev/null 2>>"$WORK/items-$mode.err") || failed=$((failed + 1))
    fi
    (cd "$R" && git add -A && git commit -q --allow-empty -m "$c" >/dev/null 2>&1)
    # The first commit is the base: what it sent is not counted.
    if [ $((n++)) = 0 ]; then
      base=$(cat "$log" 2>/dev/null | wc -l)
      # The pack at the base, to tell the history's growth from the first full analysis.
      (cd "$R" && git gc --aggressive -q)
      base_pack=$(cd "$R" && git count-objects -v | awk '/size-pack/ {print $2}')
      t0=${EPOCHREALTIME/./}
    fi
  done
  local t1=${EPOCHREALTIME/./}
  kill "$pid" 2>/dev/null || true
  local complete=-
  if [ "$mode" != none ]; then
    # Files without a result at the last commit (those the secret filter never sends among them).
    complete=$(cd "$R" && "$BIN" analyze --all -t refactor --dry-run --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["misses"])')
  fi
  (cd "$R" && git gc --aggressive -q)
  local pack
  pack=$(cd "$R" && git count-objects -v | awk '/size-pack/ {print $2}')
  local bytes=0 reqs=0 items=0
  [ -f "$log" ] && read -r bytes reqs items < <(awk -v base="$base" 'NR > base {b += $1; n++; i += $2} END {print b + 0, n + 0, i + 0}' "$log")
  echo "$mode $bytes $reqs $items $(((t1 - t0) / 1000)) $pack $failed $complete $((pack - base_pack))"
}
read -r _ fb fr fi fms fpack ffail fdone fgrow < <(replay file)
read -r _ ib ir ii ims ipack ifail idone igrow < <(replay item)
read -r _ _ _ _ _ spack _ _ sgrow < <(replay none)
paid_off
echo
echo "## Item granularity over a real history (${ITEMS_NAME:-$(basename "$SRC")}, last $((${#commits[@]} - 1)) commits after a fully analysed one, refactor)"
echo
echo "| granularity | input bytes sent | input tokens (bytes / 4) | requests | items sent | replay wall time (ms) | pack after gc --aggressive (KiB) | pack vs sources alone | pack growth over the replayed commits (KiB) | growth vs sources' growth | files without a result at the end |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
row() { # row NAME BYTES REQS ITEMS MS PACK GROWTH DONE
  awk -v n="$1" -v b="$2" -v r="$3" -v i="$4" -v t="$5" -v p="$6" -v g="$7" -v d="$8" -v s="$spack" -v sg="$sgrow" \
    'BEGIN { printf "| %s | %d | %d | %d | %s | %d | %d | %.2f× | %d | %.2f× | %s |\n", n, b, b / 4, r, i, t, p, p / s, g, (sg > 0 ? g / sg : 0), d }'
}
row file "$fb" "$fr" — "$fms" "$fpack" "$fgrow" "$fdone"
row item "$ib" "$ir" "$ii" "$ims" "$ipack" "$igrow" "$idone"
echo "| (sources alone) | | | | | | $spack | 1.00× | $sgrow | 1.00× | |"
echo
awk -v f="$fb" -v i="$ib" 'BEGIN { printf "item ÷ file input: %.2f%% (target ≤ 35%%)\n", (f > 0 ? 100 * i / f : 0) }'
awk -v f="$fgrow" -v i="$igrow" 'BEGIN { printf "item ÷ file pack growth: %.2f (target ≤ 1.00)\n", (f > 0 ? i / f : 0) }'
[ "$ffail$ifail" = 00 ] || echo "analyze runs that exited non-zero: file $ffail, item $ifail (first lines: $(sort -u "$WORK"/items-*.err | head -3 | tr '\n' ' '))"
[ -n "${KEEP_REPO:-}" ] || rm -rf "$WORK"/items-*
