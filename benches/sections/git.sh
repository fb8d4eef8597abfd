# Section `git` of benches/bench.sh: what the committed cache costs git. Three repositories
# with the same 10,000 source files (GIT_FILES): without a cache, with the shards of the two
# offline types, and with the same entries in the earlier one-file-per-entry layout. Each is
# packed (`git gc`), then `git status` and `git clone --no-local` are timed.
N=${GIT_FILES:-10000}
base=$WORK/git-none
gen_repo "$base" "$N"
shards=$WORK/git-shards
perentry=$WORK/git-perentry
rm -rf "$shards" "$perentry"
git clone -q --no-local "$base" "$shards"
(cd "$shards" && "$BIN" analyze --all -q >/dev/null 2>&1 && git add -A && git commit -q -m cache)
git clone -q --no-local "$shards" "$perentry"
# The same entries, one file each (the layout before shards: cache/<type>/<b0b1>/<rest>-<variant>.json).
(cd "$perentry" && python3 - <<'PY'
import json, os, glob
for shard in glob.glob(".rustassistant/cache/*/*.jsonl"):
    for line in open(shard):
        if not line.strip():
            continue
        v = json.loads(line)
        variant = v.pop("variant")
        d = f".rustassistant/cache/{v['cache_type']}/{v['blob'][:2]}"
        os.makedirs(d, exist_ok=True)
        with open(f"{d}/{v['blob'][2:]}-{variant}.json", "w") as f:
            f.write(json.dumps(v, indent=2) + "\n")
    os.remove(shard)
PY
git add -A && git commit -q -m "per-entry layout")
for r in "$base" "$shards" "$perentry"; do (cd "$r" && git gc -q --aggressive --prune=now); done
sync && sleep 2
pack_kb() { (cd "$1" && git count-objects -v | awk '/size-pack/ {print $2}'); }
# The commands timed, as shell strings for median_pair_ms (and `bash -c` for median_ms).
status_of() { echo "(cd '$1' && git status --porcelain)"; }
clone_of() { echo "rm -rf '$WORK/clone' && git clone -q --no-local '$1' '$WORK/clone'"; }
# The two the targets compare are measured alternately, so both see the machine in the same
# state: one after the other, their medians came from different minutes (the same `git status`
# drifts by 50% over minutes on this VM, more than the 10% margin of the target).
read -r sb ss < <(median_pair_ms "$(status_of "$base")" "$(status_of "$shards")")
read -r cb cs < <(median_pair_ms "$(clone_of "$base")" "$(clone_of "$shards")")
sp=$(median_ms bash -c "$(status_of "$perentry")"); cp=$(median_ms bash -c "$(clone_of "$perentry")")
pb=$(pack_kb "$base"); ps=$(pack_kb "$shards"); pp=$(pack_kb "$perentry")
entries=$(cat "$shards"/.rustassistant/cache/*/*.jsonl | wc -l)
echo
echo "## What the committed cache costs git ($N files, $entries entries of 2 offline types)"
echo
echo "| repository | \`git status\` (ms) | \`git clone --no-local\` (ms) | pack (kB) | cache's share of the pack (kB) |"
echo "|---|---:|---:|---:|---:|"
echo "| no cache | $sb | $cb | $pb | |"
echo "| shards (256 a type) | $ss | $cs | $ps | $((ps - pb)) |"
echo "| one file per entry (before) | $sp | $cp | $pp | $((pp - pb)) |"
awk -v sb="$sb" -v ss="$ss" -v sp="$sp" -v cb="$cb" -v cs="$cs" -v cp="$cp" -v pb="$pb" -v ps="$ps" -v pp="$pp" 'BEGIN {
  printf "\nshards vs no cache: status %.2f× (target ≤ 1.1×), clone %.2f× (target ≤ 1.3×)\n", ss / sb, cs / cb
  printf "per-entry vs no cache: status %.2f×, clone %.2f×\n", sp / sb, cp / cb
  printf "cache pack size, shards vs per-entry: %.0f%% (target ≤ 50%%)\n", (ps - pb) * 100 / (pp - pb) }'
rm -rf "$base" "$shards" "$perentry" "$WORK/clone"

# Full shard sets: every type holds all 256 shards from its first entry, most of them empty in
# a small repository, so that no cherry-pick, revert or rebase stops on a modify/delete
# conflict of a shard. Their tax is largest where the repository is small: GIT_SMALL_FILES
# files (default 200) analysed by the two offline types, with the full sets (as committed) and
# with only the shards that hold entries (the empty ones removed and committed), alternately.
small=${GIT_SMALL_FILES:-200}
full=$WORK/git-full
used=$WORK/git-used
gen_repo "$full" "$small"
(cd "$full" && "$BIN" analyze --all -q >/dev/null 2>&1 && git add -A && git commit -q -m cache)
git clone -q --no-local "$full" "$used"
(cd "$used" && find .rustassistant/cache -name '*.jsonl' -empty -delete && git add -A &&
  git commit -q -m "only the shards in use")
for r in "$full" "$used"; do (cd "$r" && git gc -q --prune=now); done
sync && sleep 1
files_of() { (cd "$1" && git ls-files | wc -l); }
read -r su sf < <(median_pair_ms "$(status_of "$used")" "$(status_of "$full")")
read -r cu cf < <(median_pair_ms "$(clone_of "$used")" "$(clone_of "$full")")
# Both go back to the commit before the cache, and return.
read -r ku kf < <(median_pair_ms "(cd '$used' && git checkout -q HEAD~2 && git checkout -q main)" \
  "(cd '$full' && git checkout -q HEAD~1 && git checkout -q main)")
echo
echo "## Full shard sets in a small repository ($small files, 2 offline types)"
echo
echo "| shards committed | tracked files | \`git status\` (ms) | \`git clone --no-local\` (ms) | checkout away and back (ms) | pack (kB) |"
echo "|---|---:|---:|---:|---:|---:|"
echo "| only those in use | $(files_of "$used") | $su | $cu | $ku | $(pack_kb "$used") |"
echo "| all 256 a type | $(files_of "$full") | $sf | $cf | $kf | $(pack_kb "$full") |"
awk -v su="$su" -v sf="$sf" -v cu="$cu" -v cf="$cf" 'BEGIN {
  printf "\nfull sets vs only those in use: status %.2f×, clone %.2f×\n", sf / su, cf / cu }'
rm -rf "$full" "$used" "$WORK/clone"
