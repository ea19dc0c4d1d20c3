#!/usr/bin/env bash
# eval_samples: `aha eval --samples FILE` writes one JSON line per sample (n x k lines) whose
# judgements add up to the summary's pass@1 and format rate, whose truncated flag is set exactly
# for responses cut at --max-new-tokens without <eos>, and an unwritable path is a clear error.
set -u
AHA=${1:?path to aha}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
PY=/usr/bin/python3

small_base 30
ck="$tmp/base/pretrain/final"
"$AHA" eval "${small[@]}" --checkpoint "$ck" --n 6 --k 3 --out "$tmp/ev.json" \
    --samples "$tmp/s.jsonl" > "$tmp/ev.log" 2>&1 || cat "$tmp/ev.log"
check "n x k sample lines" "[ \"\$(wc -l < \"$tmp/s.jsonl\")\" -eq 18 ]"
# every line parses, problems 0..5 x samples 0..2 in order, prompts are the user text "A+B"
# (the problem itself), and the correct / format counts reproduce the summary
check "lines agree with the summary" "$PY - \"$tmp/s.jsonl\" \"$tmp/ev.json\" <<'PYEOF'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ev = json.load(open(sys.argv[2]))
assert [(r['problem'], r['sample']) for r in rows] == [(i, b) for i in range(6) for b in range(3)]
assert all(re.fullmatch(r'\d+\+\d+', r['prompt']) for r in rows), rows[0]['prompt']
n = len(rows)
assert abs(sum(r['correct'] for r in rows) / n - ev['pass@1']) < 1e-9, 'pass@1'
assert abs(sum(r['format'] for r in rows) / n - ev['format_rate']) < 1e-9, 'format'
assert abs(sum(r['tokens'] for r in rows) / n - ev['response_len_mean']) < 1e-9, 'tokens'
assert all(r['truncated'] == (not r['response'].endswith('<eos>')) for r in rows), 'truncated'
PYEOF"
# a cap of 4 tokens cuts (nearly) every response: truncated then means 4 tokens and no <eos>
"$AHA" eval "${small[@]}" --checkpoint "$ck" --n 4 --k 2 --max-new-tokens 4 \
    --samples "$tmp/cut.jsonl" > /dev/null 2>&1
check "truncated responses are flagged" "$PY - \"$tmp/cut.jsonl\" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
cut = [r for r in rows if r['truncated']]
assert cut, 'nothing truncated at 4 tokens'
assert all(r['tokens'] == 4 and not r['response'].endswith('<eos>') for r in cut)
assert all(r['response'].endswith('<eos>') for r in rows if not r['truncated'])
PYEOF"
out=$("$AHA" eval "${small[@]}" --checkpoint "$ck" --n 2 --k 1 --samples "$tmp/no/such/dir/s.jsonl" 2>&1)
rc=$?
check "unwritable --samples path is an error naming it" "[ $rc -ne 0 ] && grep -q 'no/such/dir/s.jsonl' <<<\"\$out\""
exit $fail
