#!/usr/bin/env python3
"""Writes the demo instruction set (Alpaca-style JSONL) from the demo corpus made by fetch-corpus.sh.

Four kinds of short question about the structure of the King James Bible, each answered in a fixed
sentence the base model never saw, so a fine-tune visibly changes the answers:
  which book follows / precedes a book, how many chapters a book has, which testament it is in,
  and quoting a well-known verse.
usage: make-instructions.py CORPUS.txt OUT.jsonl
"""
import json
import random
import sys

corpus, out = sys.argv[1], sys.argv[2]
books, chapters, verses = [], {}, {}
with open(corpus, encoding="utf-8") as f:
    for line in f:
        line = line.rstrip("\n")
        if not line:
            continue
        # "1 Samuel 3:4 text": the book name may start with a digit and contain spaces.
        head, _, rest = line.partition(":")
        book, _, chapter = head.rpartition(" ")
        verse, _, text = rest.partition(" ")
        if book not in chapters:
            books.append(book)
            chapters[book] = 0
        chapters[book] = max(chapters[book], int(chapter))
        verses[f"{book} {chapter}:{verse}"] = text

old_testament = set(books[: books.index("Malachi") + 1])
examples = []
for i, b in enumerate(books):
    if i + 1 < len(books):
        examples.append((f"Which book comes after {b}?", f"The book after {b} is {books[i + 1]}."))
    if i > 0:
        examples.append((f"Which book comes before {b}?", f"The book before {b} is {books[i - 1]}."))
    n = chapters[b]
    examples.append((f"How many chapters are in {b}?", f"{b} has {n} chapter{'s' if n > 1 else ''}."))
    examples.append((f"Is {b} in the Old or the New Testament?",
                     f"{b} is in the {'Old' if b in old_testament else 'New'} Testament."))
famous = ["Genesis 1:1", "Genesis 1:3", "Exodus 20:3", "Psalms 23:1", "Psalms 46:1", "Psalms 119:105",
          "Proverbs 3:5", "Ecclesiastes 3:1", "Isaiah 40:31", "Micah 6:8", "Matthew 5:9", "Matthew 7:7",
          "John 1:1", "John 3:16", "John 11:35", "Romans 8:28", "1 Corinthians 13:4", "Philippians 4:13",
          "Hebrews 11:1", "Revelation 22:21"]
for ref in famous:
    examples.append((f"Quote {ref}.", f"{ref} says: {verses[ref]}"))
random.Random(1611).shuffle(examples)
with open(out, "w", encoding="utf-8") as f:
    for q, a in examples:
        f.write(json.dumps({"instruction": q, "output": a}, ensure_ascii=False) + "\n")
print(f"{len(examples)} examples -> {out}")
