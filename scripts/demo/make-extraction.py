#!/usr/bin/env python3
"""Writes the demo's structured-extraction set: a short court record in free form -> JSON fields.

The seeds' use case (court decision text -> JSON with parties, subject, amount) in the demo model's own
King James register: each record names a party, the place of the hearing, the subject of the dispute and
the shekels awarded, in one of twelve free forms ("In the matter of Jacob at Bethel, concerning sheep: the
court awarded 20 shekels.", "Judgment at Hebron: 50 shekels to Boaz for a field."), and the expected
output is compact JSON {"party":"Jacob","place":"Bethel","subject":"sheep","amount":20}. Every value occurs
in training; the held-out split holds combinations (party, place, subject, amount) that never occur in the
training split. Alpaca-style records (instruction, input, output). Deterministic (seeded).
usage: make-extraction.py [MODEL_DIR]   (writes MODEL_DIR/extraction-train.jsonl and extraction-heldout.jsonl)
"""
import json
import random
import sys

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/demo"
TRAIN, HELD_OUT, SEED = 800, 50, 1611

PARTIES = ["Jacob", "Laban", "Esau", "Joseph", "Reuben", "Judah", "Boaz", "Naomi", "Ruth", "Caleb"]
PLACES = ["Bethel", "Hebron", "Shiloh", "Gilead", "Jericho", "Bethlehem", "Gibeah", "Samaria"]
SUBJECTS = ["sheep", "a well", "a field", "cattle", "a vineyard", "a house", "silver", "a servant"]
AMOUNTS = [5, 10, 20, 30, 50, 100]

FORMS = [
    "In the matter of {p} at {l}, concerning {s}: the court awarded {a} shekels.",
    "{p} brought a suit about {s} before the judges of {l}, and was given {a} shekels.",
    "At {l} the elders heard {p} concerning {s}; {a} shekels were awarded.",
    "Judgment at {l}: {a} shekels to {p} for {s}.",
    "The judges sat in {l} and gave {p} {a} shekels in the cause of {s}.",
    "Concerning {s}, the court of {l} found for {p} and awarded {a} shekels.",
    "{a} shekels were awarded to {p} at {l}, in a dispute over {s}.",
    "Heard at {l}: {p}, a dispute over {s}. Award: {a} shekels.",
    "And {p} went up to {l} to be judged for {s}, and the judges gave him {a} shekels.",
    "Record of {l}. Party: {p}. Matter: {s}. Shekels awarded: {a}.",
    "The elders of {l} judged the cause of {p} touching {s}, and awarded {a} shekels.",
    "Before the gate of {l}, {p} won {a} shekels over {s}.",
]

rng = random.Random(SEED)
seen = set()


def draw():
    while True:
        key = (rng.choice(PARTIES), rng.choice(PLACES), rng.choice(SUBJECTS), rng.choice(AMOUNTS))
        if key not in seen:
            seen.add(key)
            return key


def record(key):
    p, l, s, a = key
    text = rng.choice(FORMS).format(p=p, l=l, s=s, a=a)
    answer = json.dumps({"party": p, "place": l, "subject": s, "amount": a}, separators=(",", ":"))
    return {"instruction": "Extract the record as JSON.", "input": text, "output": answer}


held_out = [record(draw()) for _ in range(HELD_OUT)]
train = [record(draw()) for _ in range(TRAIN)]
for name, rows in (("extraction-train.jsonl", train), ("extraction-heldout.jsonl", held_out)):
    with open(f"{model_dir}/{name}", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
print(f"{len(train)} training and {len(held_out)} held-out records in {model_dir}")
