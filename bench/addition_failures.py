#!/usr/bin/python3
"""Where an addition model fails: reads the JSONL of `aha eval --samples FILE` (3-5 digit addition,
docs/rl.md "Learning parity") and breaks the samples down by operand lengths, carries, result
length and the kind of error:
  trace_copy    a step's terms are not the operands' digits of its column (or the padding 0)
  trace_carry   a step's carry term disagrees with the previous step's sum
  trace_sum     a step's terms are right but its two-digit sum is wrong
  trace_steps   the trace has the wrong number of steps (or unreadable steps)
  answer_copy   the trace is correct but the answer is not the one it implies
  answer_wrong  no trace (direct answer) and the answer is wrong
  no_answer     no readable answer / truncated
    python3 bench/addition_failures.py SAMPLES.jsonl [SAMPLES2.jsonl ...]
"""
import json, re, sys
from collections import Counter, defaultdict

STEP = re.compile(r"^(\d)\+(\d)(?:\+(\d))?=(\d\d)$")


def correct_steps(a, b):
    da, db = str(a)[::-1], str(b)[::-1]
    n, carry, out = max(len(da), len(db)), 0, []
    for i in range(n):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        out.append((x, y, carry, s))
        carry = s // 10
    return out


def classify(a, b, resp, truncated):
    m = re.search(r"<answer>(-?\d+)</answer>", resp)
    ans = int(m.group(1)) if m else None
    t = re.search(r"<think>(.*?)</think>", resp)
    if ans is not None and ans == a + b:
        return "correct"
    if truncated:
        return "truncated"
    if not t:
        return "answer_wrong" if ans is not None else "no_answer"
    steps = [s for s in t.group(1).split(";") if s]
    want = correct_steps(a, b)
    prev_carry = 0
    for i, st in enumerate(steps):
        mm = STEP.match(st)
        if not mm or i >= len(want):
            return "trace_steps"
        x, y, c, ss = int(mm.group(1)), int(mm.group(2)), int(mm.group(3) or 0), int(mm.group(4))
        wx, wy, _, _ = want[i]
        if (x, y) != (wx, wy):
            return "trace_copy"
        if c != prev_carry:
            return "trace_carry"
        if ss != x + y + c:
            return "trace_sum"
        prev_carry = ss // 10
    if len(steps) != len(want):
        return "trace_steps"
    if ans is None:
        return "no_answer"
    return "answer_copy"


def ncarries(a, b):
    return sum(1 for s in correct_steps(a, b) if s[3] >= 10)


def report(path):
    rows = [json.loads(l) for l in open(path)]
    by = defaultdict(Counter)
    kinds = Counter()
    for r in rows:
        a, b = map(int, r["prompt"].split("+"))
        la, lb = len(str(a)), len(str(b))
        k = classify(a, b, r["response"], r["truncated"])
        if (k == "correct") != bool(r["correct"]):
            k = k + "?"  # the verifier and this script disagree: worth a look
        kinds[k] += 1
        direct = "<think>" not in r["response"]
        keys = [
            "all",
            "lengths " + ("equal" if la == lb else "unequal"),
            "longer operand %d digits" % max(la, lb),
            "lengths %d+%d" % tuple(sorted((la, lb))),
            "carries %d" % min(ncarries(a, b), 4),
            "result %d digits%s" % (len(str(a + b)), " (final carry)" if len(str(a + b)) > max(la, lb) else ""),
            "response " + ("direct" if direct else "trace"),
        ]
        for key in keys:
            by[key]["n"] += 1
            by[key]["ok"] += r["correct"]
            by[key][k] += 1
    n = len(rows)
    print("== %s: %d samples, pass@1 %.1f%%, truncated %d" % (path, n, 100 * kinds["correct"] / n,
                                                          sum(r["truncated"] for r in rows)))
    trace = [r for r in rows if "<think>" in r["response"]]
    per = defaultdict(list)
    for r in rows:
        per[r["problem"]].append(r)
    k = max(len(v) for v in per.values())
    print("responses with a trace %.1f%%, pass@1 among them %.1f%%; problems right in all %d "
          "samples %d, in none %d, of %d; distinct responses per problem %.2f" % (
              100 * len(trace) / n, 100 * sum(r["correct"] for r in trace) / max(len(trace), 1), k,
              sum(all(x["correct"] for x in v) for v in per.values()),
              sum(not any(x["correct"] for x in v) for v in per.values()), len(per),
              sum(len(set(x["response"] for x in v)) for v in per.values()) / len(per)))
    print("failure kinds (share of all samples):",
          ", ".join("%s %.1f%%" % (k, 100 * v / n) for k, v in kinds.most_common() if k != "correct"))
    print("%-34s %6s %7s  %s" % ("slice", "n", "pass@1", "failures (share of the slice)"))
    for key in sorted(by, key=lambda s: (s.split(" ")[0] != "all", s)):
        c = by[key]
        fails = ", ".join("%s %.0f%%" % (k, 100 * v / c["n"]) for k, v in c.most_common()
                          if k not in ("n", "ok", "correct") and v)
        print("%-34s %6d %6.1f%%  %s" % (key, c["n"], 100 * c["ok"] / c["n"], fails))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        report(p)
