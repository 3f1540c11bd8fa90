#!/usr/bin/env python3
"""Draws docs/images/serving-paged-kv.svg: the serving engine's block pool, three sequences' block tables
(two sharing a cached system-prompt prefix), and one scheduler step's rows (decode rows + a prefill chunk)
going through each projection as one matmul. Run from the repository root: python3 scripts/serving/paged-kv-diagram.py"""
import os

W, H = 900, 470
BLOCK, GAP = 34, 6
out = []
def rect(x, y, w, h, fill, stroke="#333", text=None, size=11, color="#000"):
    out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}" stroke="{stroke}" rx="3"/>')
    if text is not None:
        out.append(f'<text x="{x + w / 2}" y="{y + h / 2 + size / 3}" font-size="{size}" text-anchor="middle" fill="{color}">{text}</text>')
def label(x, y, s, size=12, anchor="start", weight="normal"):
    out.append(f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" font-weight="{weight}">{s}</text>')
def arrow(x1, y1, x2, y2, color="#555"):
    out.append(f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{color}" stroke-width="1.2" marker-end="url(#a)"/>')

colors = {"A": "#8ecae6", "B": "#ffb703", "C": "#b5e48c", "S": "#cdb4db", "free": "#f1f1f1", "evict": "#e9e3f0"}
# Pool of 16 blocks: owner of each (S = shared system-prompt prefix, refcount 2; evict = cached, unreferenced).
owners = ["S", "A", "free", "C", "S", "B", "free", "C", "A", "evict", "B", "free", "C", "free", "evict", "free"]
refs = {0: 2, 4: 2}
tables = {"A": [0, 4, 1, 8], "B": [0, 4, 5, 10], "C": [3, 7, 12]}
fills = {"A": "4 tokens in last block", "B": "2 tokens in last block", "C": "prefill chunk 2 of 3"}

label(20, 28, "Paged KV cache: one pool of blocks (16 positions × K and V × every layer each), sized from --kv-memory", 14, weight="bold")
px, py = 20, 60
label(px, py - 8, "block pool (per layer: K, V [blocks, 16, kvHeads, headDim] as F32, BF16 or INT8 + scales)", 11)
for i, o in enumerate(owners):
    x = px + i * (BLOCK + GAP)
    txt = f"{i}" + (f"·r{refs[i]}" if i in refs else "")
    rect(x, py, BLOCK, BLOCK, colors[o], text=txt, size=10)
label(px, py + BLOCK + 16, "S: cached prefix blocks (refcount 2)  ·  pale violet: cached, unreferenced (evicted first when the pool runs dry)  ·  grey: free", 10)

ty = 150
label(20, ty - 12, "block tables (position p of a sequence lives in block table[p / 16], slot p mod 16)", 12, weight="bold")
for r, (name, table) in enumerate(tables.items()):
    y = ty + r * 46
    label(20, y + 22, f"seq {name}", 12, weight="bold")
    for j, b in enumerate(table):
        x = 80 + j * (BLOCK + GAP)
        rect(x, y, BLOCK, BLOCK - 6, colors[owners[b]], text=str(b), size=10)
        arrow(x + BLOCK / 2, y, px + b * (BLOCK + GAP) + BLOCK / 2, py + BLOCK + 2, "#999")
    label(80 + len(table) * (BLOCK + GAP) + 6, y + 18, fills[name], 10)

sx, sy = 500, 150
label(sx, sy - 12, "one scheduler step (iteration-level)", 12, weight="bold")
rows = [("A", "decode", 1), ("B", "decode", 1), ("C", "prefill chunk", 5)]
y = sy
for name, kind, n in rows:
    h = 16 * n
    rect(sx, y, 150, h, colors[name], text=f"seq {name}: {kind}" + (f" ({n} rows)" if n > 1 else ""), size=10)
    y += h + 2
label(sx + 160, sy + 20, "rows of every running sequence,", 11)
label(sx + 160, sy + 36, "≤ --max-batch-tokens per step", 11)
arrow(sx + 75, y + 4, sx + 75, y + 30)
steps = ["q/k/v, o, gate/up/down, lm_head: ONE matmul each (m = rows),", "per-row GEMV arithmetic → batch-invariant; LoRA per row group",
         "PagedKvStore: new K/V → their slots", "PagedAttention: each row vs its own keys via its block table"]
for i, s in enumerate(steps):
    label(sx, y + 46 + i * 18, s, 11)
label(sx, y + 130, "then sample each sequence whose tokens are all in the cache; stream it out", 11)

out.insert(0, f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">'
              '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="6" refY="3" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker></defs>'
              f'<rect width="{W}" height="{H}" fill="white"/>')
out.append("</svg>")
path = os.path.join("docs", "images", "serving-paged-kv.svg")
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "w", encoding="utf-8") as f:
    f.write("\n".join(out) + "\n")
print(path)
