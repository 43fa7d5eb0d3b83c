#!/usr/bin/env python3
"""A `deepshift hpo run --objective-cmd` program: ZDT1 with the shift-automl benchmark's
synthetic fidelity (budgets 1..27; at 27 the values are ZDT1's own).

Reads the trial as one JSON object on standard input, prints progress lines, then the
objectives as a JSON object on its last line. Environment knobs for tests and demos:
ZDT1_SECONDS_PER_BUDGET (sleep per budget unit, default 0), ZDT1_FAIL_EVERY (trials whose
number is a multiple of it fail, default off).
"""
import json
import math
import os
import sys
import time

trial = json.loads(sys.stdin.readline())
x = [float(trial["config"][f"x{i}"]) for i in range(6)]
budget = float(trial["budget"])

fail_every = int(os.environ.get("ZDT1_FAIL_EVERY", "0"))
if fail_every and trial["trial"] % fail_every == 0 and trial["trial"] > 0:
    print(f"trial {trial['trial']}: simulated crash", file=sys.stderr)
    sys.exit(3)

time.sleep(float(os.environ.get("ZDT1_SECONDS_PER_BUDGET", "0")) * budget)

f1 = x[0]
g = 1.0 + (9.0 * sum(x[1:])) / 5.0
f2 = g * (1.0 - math.sqrt(f1 / g))
s = 1.0 - math.log(budget) / math.log(27.0)
out = []
for f, w in ((f1, [(j + 1) / 6.0 for j in range(6)]), (f2, [(6 - j) / 6.0 for j in range(6)])):
    dot = 0.0
    for j in range(6):
        dot += w[j] * x[j]
    out.append(f + s * (0.2 * math.sin((2.0 * math.pi) * dot)))

print(f"evaluated x={x} at budget {budget}")
print(json.dumps({"f1": out[0], "f2": out[1], "fidelity_weight": s, "pid": os.getpid()}))
