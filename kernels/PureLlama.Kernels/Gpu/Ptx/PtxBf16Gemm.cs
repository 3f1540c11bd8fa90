namespace PureLlama.Kernels.Gpu.Ptx;

/// <summary>
/// C[m,n] (= or +=) A[m,k] · B[n,k]ᵀ with A, B BF16 (rows lda, ldb apart; B is a weight [out, in]) and C (rows ldc
/// apart) and the accumulation F32 —
/// the projection of activations by a weight — on tensor cores, as PTX written by <see cref="PtxBuilder"/>.
///
/// Tiling: a 256-thread block owns a 128×128 tile of C and walks k in steps of 32; 8 warps as 2 (m) × 4 (n), each
/// owning 64×32 = 4×4 mma tiles of m16n8, so a thread holds 64 F32 accumulators. Per k step the block copies the
/// A and B tiles [128 × 32] global → shared with 16-byte cp.async (two stages: the next tile is in flight while
/// this one is multiplied; rows out of range are zero-filled), then per k16 each warp loads its fragments with
/// ldmatrix.x4 (rows padded to 80 bytes: the 8 row addresses of one 8×8 matrix fall in 8 distinct 16-byte bank
/// groups) and issues 16 mma.sync.m16n8k16. Fragment layouts (PTX ISA, "mma.m16n8k16"): thread (g = lane/4,
/// t = lane%4) holds A rows g and g+8 at k 2t, 2t+1 (+8), B column g at k 2t, 2t+1 (+8), and C rows g, g+8 at
/// columns 2t, 2t+1. Requires k, lda, ldb ≡ 0 (mod 8) and 16-byte aligned A and B (16-byte row chunks), and
/// m·ldc, n·ldb, m·lda &lt; 2³² elements; any m, n.
/// </summary>
internal static class PtxBf16Gemm
{
    /// <summary>Entry point name.</summary>
    public const string Name = "purellama_bf16_gemm_nt";

    /// <summary>C tile edge per block.</summary>
    public const int Tile = 128;

    /// <summary>k per pipeline stage.</summary>
    public const int TileK = 32;

    /// <summary>Threads per block.</summary>
    public const int Threads = 256;

    private const int RowBytes = 80;                           // 32 BF16 (64 B) padded to 80 B
    private const int TileBytes = Tile * RowBytes;             // one operand tile in shared memory
    private const int StageBytes = 2 * TileBytes;              // A then B
    private const int WarpRows = 64, WarpCols = 32;

    /// <summary>Blocks to launch: (⌈n/128⌉, ⌈m/128⌉).</summary>
    public static (int X, int Y) Grid(int m, int n) => ((n + Tile - 1) / Tile, (m + Tile - 1) / Tile);

    /// <summary>The PTX module of the kernel for <paramref name="target"/> (sm_80 or newer).</summary>
    public static string Generate(string target = "sm_80")
    {
        var p = new PtxBuilder(Name, target);
        string pa = p.Param(".u64", "a_ptr"), pb = p.Param(".u64", "b_ptr"), pc = p.Param(".u64", "c_ptr");
        string pm = p.Param(".u32", "m"), pn = p.Param(".u32", "n"), pk = p.Param(".u32", "k");
        string plda = p.Param(".u32", "lda"), pldb = p.Param(".u32", "ldb"), pldc = p.Param(".u32", "ldc"), pacc = p.Param(".u32", "accumulate");
        string smem = p.Shared("tiles", 2 * StageBytes);

        p.Comment("parameters and thread coordinates");
        string a = p.Reg("b64"), b = p.Reg("b64"), c = p.Reg("b64");
        string m = p.Reg("b32"), n = p.Reg("b32"), k = p.Reg("b32");
        p.Op($"ld.param.u64 {a}, [{pa}]"); p.Op($"ld.param.u64 {b}, [{pb}]"); p.Op($"ld.param.u64 {c}, [{pc}]");
        p.Op($"ld.param.u32 {m}, [{pm}]"); p.Op($"ld.param.u32 {n}, [{pn}]"); p.Op($"ld.param.u32 {k}, [{pk}]");
        string lda = p.Reg("b32"), ldb = p.Reg("b32"), ldc = p.Reg("b32"), accumulateFlag = p.Reg("b32"), accumulate = p.Reg("pred");
        p.Op($"ld.param.u32 {lda}, [{plda}]"); p.Op($"ld.param.u32 {ldb}, [{pldb}]"); p.Op($"ld.param.u32 {ldc}, [{pldc}]");
        p.Op($"ld.param.u32 {accumulateFlag}, [{pacc}]");
        p.Op($"setp.ne.u32 {accumulate}, {accumulateFlag}, 0");
        p.Op($"cvta.to.global.u64 {a}, {a}"); p.Op($"cvta.to.global.u64 {b}, {b}"); p.Op($"cvta.to.global.u64 {c}, {c}");
        string tid = p.Reg("b32"), lane = p.Reg("b32"), warp = p.Reg("b32");
        p.Op($"mov.u32 {tid}, %tid.x");
        p.Op($"and.b32 {lane}, {tid}, 31");
        p.Op($"shr.u32 {warp}, {tid}, 5");
        string warpM = p.Reg("b32"), warpN = p.Reg("b32");
        p.Op($"shr.u32 {warpM}, {warp}, 2");
        p.Op($"and.b32 {warpN}, {warp}, 3");
        string blockRow = p.Reg("b32"), blockCol = p.Reg("b32");
        p.Op($"mov.u32 {blockRow}, %ctaid.y"); p.Op($"shl.b32 {blockRow}, {blockRow}, 7");
        p.Op($"mov.u32 {blockCol}, %ctaid.x"); p.Op($"shl.b32 {blockCol}, {blockCol}, 7");
        string smemBase = p.Reg("b32");
        p.Op($"mov.u32 {smemBase}, {smem}");

        var copy = CopyPlan(p, a, b, m, n, lda, ldb, tid, blockRow, blockCol);
        var (aLane, bLane) = FragmentAddresses(p, lane, warpM, warpN);

        p.Comment("accumulators: [mi 0..3][ni 0..3][4]");
        var acc = new string[4, 4][];
        for (int mi = 0; mi < 4; mi++)
            for (int ni = 0; ni < 4; ni++)
            {
                acc[mi, ni] = p.Regs("f32", 4);
                foreach (var r in acc[mi, ni]) p.Op($"mov.f32 {r}, 0f00000000");
            }

        p.Comment("k loop: two shared stages, the next tile copied while this one is multiplied");
        string numK = p.Reg("b32"), kt = p.Reg("b32"), stage = p.Reg("b32"), next = p.Reg("b32");
        string done = p.Reg("pred"), hasNext = p.Reg("pred");
        string loop = p.NewLabel("k_loop"), epilogue = p.NewLabel("epilogue");
        p.Op($"add.u32 {numK}, {k}, {PtxBuilder.Imm(TileK - 1)}");
        p.Op($"shr.u32 {numK}, {numK}, 5");
        p.Op($"setp.eq.u32 {done}, {numK}, 0");
        p.Op($"bra.uni {epilogue}", done);
        p.Op($"mov.u32 {kt}, 0");
        IssueCopy(p, copy, kt, smemBase, a, b, k);
        p.CpAsyncCommit();
        p.Label(loop);
        p.Op($"add.u32 {next}, {kt}, 1");
        p.Op($"setp.lt.u32 {hasNext}, {next}, {numK}");
        string skipCopy = p.NewLabel("no_prefetch");
        p.Op($"bra.uni {skipCopy}", "!" + hasNext);
        string nextStage = p.Reg("b32");
        p.Op($"and.b32 {nextStage}, {next}, 1");
        p.Op($"mad.lo.u32 {nextStage}, {nextStage}, {PtxBuilder.Imm(StageBytes)}, {smemBase}");
        IssueCopy(p, copy, next, nextStage, a, b, k);
        p.Label(skipCopy);
        p.CpAsyncCommit();
        p.CpAsyncWait(1);
        p.BarSync();
        p.Op($"and.b32 {stage}, {kt}, 1");
        p.Op($"mad.lo.u32 {stage}, {stage}, {PtxBuilder.Imm(StageBytes)}, {smemBase}");
        MultiplyStage(p, acc, stage, aLane, bLane);
        p.BarSync();
        p.Op($"mov.u32 {kt}, {next}");
        p.Op($"bra.uni {loop}", hasNext);

        p.Label(epilogue);
        StoreC(p, acc, c, m, n, ldc, accumulate, lane, warpM, warpN, blockRow, blockCol);
        return p.Build();
    }

    // Which 16-byte chunks of the A and B tiles this thread copies: chunk ids tid and tid + 256 of 512 per operand,
    // i.e. rows tid/4 and tid/4 + 64, column chunk tid%4 (8 BF16). Global row bases and row-in-range predicates.
    private sealed record Copy(string Chunk, string[] GlobalA, string[] GlobalB, string[] RowOkA, string[] RowOkB, string[] SharedOffset);

    private static Copy CopyPlan(PtxBuilder p, string a, string b, string m, string n, string lda, string ldb, string tid, string blockRow, string blockCol)
    {
        p.Comment("copy plan: each thread moves 2 chunks of A and 2 of B per stage");
        string row = p.Reg("b32"), chunk = p.Reg("b32");
        p.Op($"shr.u32 {row}, {tid}, 2");
        p.Op($"and.b32 {chunk}, {tid}, 3");
        var globalA = new string[2]; var globalB = new string[2]; var okA = new string[2]; var okB = new string[2]; var shared = new string[2];
        for (int i = 0; i < 2; i++)
        {
            string r = p.Reg("b32");
            p.Op($"add.u32 {r}, {row}, {PtxBuilder.Imm(64 * i)}");
            shared[i] = p.Reg("b32");
            p.Op($"mul.lo.u32 {shared[i]}, {r}, {PtxBuilder.Imm(RowBytes)}");
            p.Op($"mad.lo.u32 {shared[i]}, {chunk}, 16, {shared[i]}");
            (globalA[i], okA[i]) = RowBase(p, a, r, blockRow, m, lda, chunk);
            (globalB[i], okB[i]) = RowBase(p, b, r, blockCol, n, ldb, chunk);
        }
        return new Copy(chunk, globalA, globalB, okA, okB, shared);
    }

    // Address of element (tileStart + r, chunk·8) of a BF16 matrix with rows ld apart, and whether that row exists.
    private static (string Address, string RowOk) RowBase(PtxBuilder p, string matrix, string r, string tileStart, string rows, string ld, string chunk)
    {
        string globalRow = p.Reg("b32"), element = p.Reg("b32"), ok = p.Reg("pred"), address = p.Reg("b64");
        p.Op($"add.u32 {globalRow}, {tileStart}, {r}");
        p.Op($"setp.lt.u32 {ok}, {globalRow}, {rows}");
        p.Op($"mul.lo.u32 {element}, {globalRow}, {ld}");
        p.Op($"mad.lo.u32 {element}, {chunk}, 8, {element}");
        p.Op($"mad.wide.u32 {address}, {element}, 2, {matrix}");
        return (address, ok);
    }

    // cp.async of this thread's 4 chunks of k tile kt into the stage at shared address stageBase; chunks past a row's
    // end or of a missing row read nothing (source size 0 → zeros) from the matrix start.
    private static void IssueCopy(PtxBuilder p, Copy plan, string kt, string stageBase, string a, string b, string k)
    {
        string column = p.Reg("b32"), columnOk = p.Reg("pred");
        p.Op($"shl.b32 {column}, {kt}, 5");
        p.Op($"mad.lo.u32 {column}, {plan.Chunk}, 8, {column}");
        p.Op($"setp.lt.u32 {columnOk}, {column}, {k}");
        string stepBytes = p.Reg("b64");
        p.Op($"mul.wide.u32 {stepBytes}, {kt}, {PtxBuilder.Imm(TileK * 2)}");
        for (int operand = 0; operand < 2; operand++)
            for (int i = 0; i < 2; i++)
            {
                string rowBase = operand == 0 ? plan.GlobalA[i] : plan.GlobalB[i];
                string rowOk = operand == 0 ? plan.RowOkA[i] : plan.RowOkB[i];
                string matrix = operand == 0 ? a : b;
                string ok = p.Reg("pred"), source = p.Reg("b64"), bytes = p.Reg("b32"), dst = p.Reg("b32");
                p.Op($"and.pred {ok}, {rowOk}, {columnOk}");
                p.Op($"add.u64 {source}, {rowBase}, {stepBytes}");
                p.Op($"selp.b64 {source}, {source}, {matrix}, {ok}");
                p.Op($"selp.u32 {bytes}, 16, 0, {ok}");
                p.Op($"add.u32 {dst}, {stageBase}, {plan.SharedOffset[i]}");
                if (operand == 1) p.Op($"add.u32 {dst}, {dst}, {PtxBuilder.Imm(TileBytes)}");
                p.CpAsync16(dst, source, bytes);
            }
    }

    // Per-lane ldmatrix row offsets within a stage. A (x4 = one m16k16 fragment): lane l gives row l%16 at k (l/16)·8.
    // B (x4 = two n8k16 fragments): lane l gives row (l%8) + (l/16)·8 at k ((l/8)%2)·8, so the four matrices are
    // (n 0–7, k 0–7), (n 0–7, k 8–15), (n 8–15, k 0–7), (n 8–15, k 8–15) = b0, b1 of the first n8 tile, then the second.
    private static (string A, string B) FragmentAddresses(PtxBuilder p, string lane, string warpM, string warpN)
    {
        p.Comment("ldmatrix row addresses of this lane");
        string aRow = p.Reg("b32"), aCol = p.Reg("b32"), aOffset = p.Reg("b32");
        p.Op($"and.b32 {aRow}, {lane}, 15");
        p.Op($"mad.lo.u32 {aRow}, {warpM}, {PtxBuilder.Imm(WarpRows)}, {aRow}");
        p.Op($"shr.u32 {aCol}, {lane}, 4");
        p.Op($"mul.lo.u32 {aOffset}, {aRow}, {PtxBuilder.Imm(RowBytes)}");
        p.Op($"mad.lo.u32 {aOffset}, {aCol}, 16, {aOffset}");
        string bRow = p.Reg("b32"), bHigh = p.Reg("b32"), bCol = p.Reg("b32"), bOffset = p.Reg("b32");
        p.Op($"and.b32 {bRow}, {lane}, 7");
        p.Op($"shr.u32 {bHigh}, {lane}, 4");
        p.Op($"mad.lo.u32 {bRow}, {bHigh}, 8, {bRow}");
        p.Op($"mad.lo.u32 {bRow}, {warpN}, {PtxBuilder.Imm(WarpCols)}, {bRow}");
        p.Op($"shr.u32 {bCol}, {lane}, 3");
        p.Op($"and.b32 {bCol}, {bCol}, 1");
        p.Op($"mul.lo.u32 {bOffset}, {bRow}, {PtxBuilder.Imm(RowBytes)}");
        p.Op($"mad.lo.u32 {bOffset}, {bCol}, 16, {bOffset}");
        p.Op($"add.u32 {bOffset}, {bOffset}, {PtxBuilder.Imm(TileBytes)}");
        return (aOffset, bOffset);
    }

    // The two k16 steps of one stage: 4 A fragments, 2 × 2 B fragments, 16 mma per step.
    private static void MultiplyStage(PtxBuilder p, string[,][] acc, string stage, string aLane, string bLane)
    {
        string aAddress = p.Reg("b32"), bAddress = p.Reg("b32");
        p.Op($"add.u32 {aAddress}, {stage}, {aLane}");
        p.Op($"add.u32 {bAddress}, {stage}, {bLane}");
        var aFrag = new string[4][];
        var bFrag = new string[4][];
        for (int i = 0; i < 4; i++) { aFrag[i] = p.Regs("b32", 4); bFrag[i] = p.Regs("b32", 2); }
        for (int ks = 0; ks < TileK / 16; ks++)
        {
            p.Comment($"k16 step {ks}");
            for (int mi = 0; mi < 4; mi++)
                p.LdMatrixX4(aFrag[mi], $"{aAddress}+{PtxBuilder.Imm(mi * 16 * RowBytes + ks * 32)}");
            for (int nj = 0; nj < 2; nj++)
            {
                var four = p.Regs("b32", 4);
                p.LdMatrixX4(four, $"{bAddress}+{PtxBuilder.Imm(nj * 16 * RowBytes + ks * 32)}");
                p.Op($"mov.b32 {bFrag[2 * nj][0]}, {four[0]}"); p.Op($"mov.b32 {bFrag[2 * nj][1]}, {four[1]}");
                p.Op($"mov.b32 {bFrag[2 * nj + 1][0]}, {four[2]}"); p.Op($"mov.b32 {bFrag[2 * nj + 1][1]}, {four[3]}");
            }
            for (int mi = 0; mi < 4; mi++)
                for (int ni = 0; ni < 4; ni++)
                    p.MmaBf16(acc[mi, ni], aFrag[mi], bFrag[ni], acc[mi, ni]);
        }
    }

    // C fragment (mi, ni): rows rowBase + mi·16 + {0, 8}, columns colBase + ni·8 + {0, 1}, each store guarded by
    // its row and column being inside C; with accumulate set, what C held is added first.
    private static void StoreC(PtxBuilder p, string[,][] acc, string c, string m, string n, string ldc, string accumulate, string lane,
        string warpM, string warpN, string blockRow, string blockCol)
    {
        p.Comment("epilogue: guarded F32 stores of the accumulators");
        string g = p.Reg("b32"), t = p.Reg("b32"), row = p.Reg("b32"), col = p.Reg("b32");
        p.Op($"shr.u32 {g}, {lane}, 2");
        p.Op($"and.b32 {t}, {lane}, 3");
        p.Op($"mad.lo.u32 {row}, {warpM}, {PtxBuilder.Imm(WarpRows)}, {blockRow}");
        p.Op($"add.u32 {row}, {row}, {g}");
        p.Op($"mad.lo.u32 {col}, {warpN}, {PtxBuilder.Imm(WarpCols)}, {blockCol}");
        p.Op($"mad.lo.u32 {col}, {t}, 2, {col}");
        var colOk = new string[8];
        for (int j = 0; j < 8; j++)
        {
            string cj = p.Reg("b32");
            colOk[j] = p.Reg("pred");
            p.Op($"add.u32 {cj}, {col}, {PtxBuilder.Imm((j / 2) * 8 + j % 2)}");
            p.Op($"setp.lt.u32 {colOk[j]}, {cj}, {n}");
        }
        string element = p.Reg("b32"), rowAddress = p.Reg("b64"), r = p.Reg("b32"), rowOk = p.Reg("pred"), ok = p.Reg("pred");
        string add = p.Reg("pred"), old = p.Reg("f32");
        for (int mi = 0; mi < 4; mi++)
            for (int half = 0; half < 2; half++)
            {
                p.Op($"add.u32 {r}, {row}, {PtxBuilder.Imm(mi * 16 + half * 8)}");
                p.Op($"setp.lt.u32 {rowOk}, {r}, {m}");
                p.Op($"mad.lo.u32 {element}, {r}, {ldc}, {col}");
                p.Op($"mad.wide.u32 {rowAddress}, {element}, 4, {c}");
                for (int ni = 0; ni < 4; ni++)
                    for (int e = 0; e < 2; e++)
                    {
                        string address = $"{rowAddress}+{PtxBuilder.Imm((ni * 8 + e) * 4)}", value = acc[mi, ni][half * 2 + e];
                        p.Op($"and.pred {ok}, {rowOk}, {colOk[ni * 2 + e]}");
                        p.Op($"and.pred {add}, {ok}, {accumulate}");
                        p.Op($"ld.global.f32 {old}, [{address}]", add);
                        p.Op($"add.f32 {value}, {value}, {old}", add);
                        p.Op($"st.global.f32 [{address}], {value}", ok);
                    }
            }
    }
}
