# Section `llm` of benches/bench.sh: hits of a paid (LLM) type against the offline ones, at
# LLM_FILES files (default 10,000) whose `refactor` entries were made by the fake server and
# committed, each timed alternately with the `git status` it is compared to.
N=${LLM_FILES:-10000}
R=$WORK/llm$N
gen_repo "$R" "$N"
# LLM_GRANULARITY (file or item; default the tool's, item) sets how the refactor entries are
# made: by items, a file entry stores its result by reference and a hit still reads only it.
if [ -n "${LLM_GRANULARITY:-}" ]; then
  mkdir -p "$R/.rustassistant"
  printf '[analysis]\ngranularity = "%s"\n' "$LLM_GRANULARITY" >"$R/.rustassistant/config.toml"
fi
paid_on
(cd "$R" && "$BIN" analyze --all -t refactor -t todos -t metrics --jobs 16 -q >/dev/null 2>&1)
(cd "$R" && git add .rustassistant && git commit -q -m cache)
kill "$FAKE_PID" 2>/dev/null || true
sync && sleep 2
(cd "$R" && "$BIN" cache stats -q >/dev/null)
F=src/m001/f1.rs
read -r llm1 off1 gst1 < <(cd "$R" && alternate_us "$RUNS" \
  "'$BIN' analyze -t refactor $F -q" "'$BIN' analyze -t todos $F -q" "git status --porcelain -- $F")
read -r llma offa gsta < <(cd "$R" && alternate_us "$RUNS" \
  "'$BIN' analyze --all -t refactor -q" "'$BIN' analyze --all -t todos -t metrics -q" "git status --porcelain")
paid_off
echo
echo "## Hits of a paid type ($N files, refactor entries committed by ${LLM_GRANULARITY:-item}; alternated, median of $RUNS)"
echo
echo "| measurement | wall time (ms) | vs its \`git status\` | target |"
echo "|---|---:|---:|---|"
row() { awk -v n="$1" -v a="$2" -v g="$3" -v t="$4" 'BEGIN { printf "| %s | %.1f | %.2f× | %s |\n", n, a / 1000, a / g, t }'; }
row "one-file hit, refactor (\`analyze -t refactor FILE\`)" "$llm1" "$gst1" "≤ 1.0×"
row "one-file hit, todos (\`analyze -t todos FILE\`)" "$off1" "$gst1" "—"
awk -v g="$gst1" 'BEGIN { printf "| `git status --porcelain -- FILE` | %.1f | | |\n", g / 1000 }'
row "all cached, refactor (\`analyze --all -t refactor\`)" "$llma" "$gsta" "≤ 1.2×"
row "all cached, todos + metrics" "$offa" "$gsta" "≤ 1.2×"
awk -v g="$gsta" 'BEGIN { printf "| `git status --porcelain` | %.1f | | |\n", g / 1000 }'
[ -n "${KEEP_REPO:-}" ] || rm -rf "$R"
