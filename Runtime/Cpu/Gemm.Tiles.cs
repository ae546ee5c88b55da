using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Cpu;

// The register-tile path: products whose op(B) is small enough to stay in L2 (a layer's weight, a batch's gradient)
// run without any packing, one 8 × 32 tile of C at a time with the whole depth in registers.
public static unsafe partial class Gemm
{
    /// <summary>
    /// Products with op(B) at most this many floats (k·n; 512 KiB, half the L2 of the cores this was tuned on) take
    /// the register-tile path on AVX-512 machines (<see cref="TryRunTiles"/>), provided n ≤ <see cref="TileMaxN"/>.
    /// </summary>
    const long TileMaxB = 128 * 1024;

    /// <summary>Columns of C at most for the register-tile path: wider B rows repay packing (fewer TLB pages and L1 sets per sliver).</summary>
    const int TileMaxN = 256;

    /// <summary>Rows of C per tile.</summary>
    const int TileRows = 8;

    /// <summary>
    /// C = op(A)·op(B) [+ bias, activation] (or C += op(A)·op(B)) for products whose op(B) stays in L2, AVX-512 only:
    /// each tile of 8 rows × 32 columns (16 for the last columns where at most 16 remain) accumulates the whole depth
    /// in 16 zmm registers, reading op(A) where it is stored (either order: one broadcast per row and depth step) and
    /// B's rows where they are stored (masked loads past the last column), and applies bias and activation as it
    /// stores C once. Nothing is packed: for the MLP's products (k·n ≤ 100K floats, at most 128 columns) packing
    /// op(B) per call cost as much as a third of the product, and a tile that runs the whole depth never reloads C.
    /// Two shapes are rearranged first: a transposed op(B) small enough is copied to k × n rows; and with a transposed
    /// A and at most 12 columns (the weight gradient of a classifier's output layer, Hᵀ·dY) the product is computed
    /// as its transpose Cᵀ = op(B)ᵀ·op(A)ᵀ, whose columns run along A's rows (16 lanes used instead of n), and each
    /// tile is stored transposed. False (nothing done) where the shape does not fit.
    /// </summary>
    static bool TryRunTiles(Args* g, int threads)
    {
        int m = g->M, n = g->N, k = g->K;
        if (!TilesEnabled || CpuFeatures.Active != SimdLevel.Avx512 || n > TileMaxN || (long)k * n > TileMaxB)
            return false;

        TileJob job = default;
        job.K = k;
        job.Accumulate = g->Accumulate;
        job.Activation = g->Activation;
        job.Bias = g->Bias;
        job.Ldc = g->Ldc;
        job.C = g->C;
        bool transB;
        if (g->TransA && n <= 12 && m >= 32)
        {
            // Cᵀ (n × m) = op(B)ᵀ (n × k) · A (k × m, as stored): tile rows are C's columns.
            job.TransposedC = true;
            job.M = n;
            job.N = m;
            job.A = g->B;
            job.Rs = g->TransB ? g->Ldb : 1;
            job.Ds = g->TransB ? 1 : g->Ldb;
            job.B = g->A;
            job.Ldb = g->Lda;
            transB = false;
        }
        else
        {
            job.M = m;
            job.N = n;
            job.A = g->A;
            job.Rs = g->TransA ? 1 : g->Lda;
            job.Ds = g->TransA ? g->Lda : 1;
            job.B = g->B;
            job.Ldb = g->Ldb;
            transB = g->TransB;
        }
        job.RowTiles = (job.M + TileRows - 1) / TileRows;
        job.ColBlocks = (job.N + 31) / 32;
        long panels = (long)job.ColBlocks * 32 * k;

        // op(B) is read in place where a tile covers 32 whole columns (unmasked loads, straight from B's rows: the
        // MLP's hidden layer ran at 116 GFLOP/s on one core so, against 104 with B packed per depth block and 89
        // with masked loads, whose mask the JIT converts inside the loop). A transposed B (the tiles need rows), or
        // a small B whose last columns would need masked loads, is first copied into 32-column panels, zero-padded
        // (row p of panel jb at [jb·32k + 32p]).
        if (transB && panels > TilePackedBMax)
            return false;
        if (panels <= TilePackedBMax && (transB || job.N % 32 != 0))
        {
            float* dst = TransposeBuffer();
            for (int jb = 0; jb < job.ColBlocks; jb++)
                PackPanel(job.B, job.Ldb, transB, 0, k, jb * 32, Math.Min(32, job.N - jb * 32), dst + (long)jb * 32 * k);
            job.Panels = dst;
        }

        // Split the dimension whose operand is the larger, so each thread reads the smaller part of the larger one:
        // columns for the forward product (B = the 784 × 128 weight), rows for the weight gradient (A = the batch).
        job.SplitN = job.N >= job.M && job.ColBlocks >= 2;
        job.Items = 1;
        if (threads > 1 && (long)m * n * k >= TileParallelThreshold)
            job.Items = job.SplitN ? job.ColBlocks : Math.Min(job.RowTiles, (int)Math.Clamp((long)m * n * k >> 16, 2, 8));
        if (job.Items <= 1 || !WorkerPool.TryRun(&TileItem, (nint)(&job), job.Items, threads))
        {
            if (job.SplitN)
                for (int jb = 0; jb < job.ColBlocks; jb++)
                    TileItem((nint)(&job), jb);
            else
            {
                job.Items = 1;
                TileItem((nint)(&job), 0);
            }
        }
        return true;
    }

    /// <summary>Floats of the packed op(B) panels of a whole product (32 columns per panel, rounded up).</summary>
    const int TilePackedBMax = 32 * 1024;

    /// <summary>
    /// Multiply-adds from which the tile path splits a product over the threads (a knob for <c>-- gemm mlp</c>): at
    /// 2^15, the 10-column products measured 2.5 → 3.1 µs (OutputForward, fork/join dominates) and 3.2 → 2.2 µs (dW2).
    /// </summary>
    internal static long TileParallelThreshold = ParallelThreshold;

    /// <summary>False routes every product to the packed paths: for benchmarks that compare the two in one process.</summary>
    internal static bool TilesEnabled = true;

    /// <summary>A product for the register-tile path: D = A·B with op(A)(i, p) = A[i·Rs + p·Ds] and B k × N rows; D is C, or Cᵀ.</summary>
    struct TileJob
    {
        public float* A, B, C, Bias, Panels;
        public long Rs, Ds, Ldb, Ldc;
        public int M, N, K;
        public bool Accumulate, TransposedC, SplitN;
        public Activation Activation;
        public int RowTiles, ColBlocks, Items;
    }

    [ThreadStatic] static float[]? t_transposeB;
    [ThreadStatic] static float* t_transposeBPtr;

    static float* TransposeBuffer()
    {
        if (t_transposeB == null)
        {
            t_transposeB = GC.AllocateArray<float>(TilePackedBMax + 16, pinned: true);
            t_transposeBPtr = AlignedPointer(t_transposeB);
        }
        return t_transposeBPtr;
    }

    /// <summary>
    /// Copies rows p0 .. p0+kc, columns j0 .. j0+cols (at most 32) of B (k × n, or stored n × k when
    /// <paramref name="trans"/>) to <paramref name="dst"/>, 32 floats a row; lanes past cols are zero or left alone.
    /// </summary>
    static void PackPanel(float* b, long ldb, bool trans, int p0, int kc, int j0, int cols, float* dst)
    {
        if (!trans)
        {
            Vector512<float> lane = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            Vector512<float> mask0 = Vector512.LessThan(lane, Vector512.Create((float)cols));
            Vector512<float> mask1 = Vector512.LessThan(lane, Vector512.Create((float)(cols - 16)));
            float* s = b + p0 * ldb + j0;
            for (int p = 0; p < kc; p++, s += ldb, dst += 32)
            {
                Avx512F.MaskLoad(s, mask0, Vector512<float>.Zero).Store(dst);
                Avx512F.MaskLoad(s + 16, mask1, Vector512<float>.Zero).Store(dst + 16);
            }
            return;
        }
        // op(B)(p, j) = b[j·ldb + p]: 8 × 8 blocks by register transposes, then the edges one value at a time.
        int q0 = 0, pEnd = kc / 8 * 8;
        for (; q0 + 8 <= cols; q0 += 8)
            for (int p = 0; p < pEnd; p += 8)
                Transpose8x8(b + (j0 + q0) * ldb + p0 + p, ldb, dst + p * 32 + q0, 32);
        for (int q = 0; q < cols; q++)
        {
            float* s = b + (j0 + q) * ldb + p0;
            for (int p = q < q0 ? pEnd : 0; p < kc; p++)
                dst[p * 32 + q] = s[p];
        }
        for (int p = 0; p < kc && cols < 32; p++)
            new Span<float>(dst + p * 32 + cols, 32 - cols).Clear();
    }

    /// <summary>Item <paramref name="index"/> of a tile job: one column block (all rows), or a balanced range of row tiles (all columns).</summary>
    static void TileItem(nint context, int index)
    {
        var g = (TileJob*)context;
        int first = 0, end = g->RowTiles, jFirst = 0, jEnd = g->ColBlocks;
        if (g->SplitN)
        {
            jFirst = index;
            jEnd = index + 1;
        }
        else
        {
            first = (int)((long)g->RowTiles * index / g->Items);
            end = (int)((long)g->RowTiles * (index + 1) / g->Items);
        }
        for (int jb = jFirst; jb < jEnd; jb++)
        {
            float* b = g->Panels != null ? g->Panels + (long)jb * 32 * g->K : g->B + jb * 32;
            long ldb = g->Panels != null ? 32 : g->Ldb;
            if (g->TransposedC)
            {
                for (int t = first; t < end; t++)
                    TransposedTile(g, t * TileRows, jb * 32, b, ldb);
            }
            else
            {
                Tiles(g, first * TileRows, Math.Min(g->M, end * TileRows), jb * 32, b, ldb);
            }
        }
    }

    /// <summary>The masks of a tile with <paramref name="cols"/> columns: lanes below cols, and below cols − 16.</summary>
    static (Vector512<float>, Vector512<float>) TileMasks(int cols)
    {
        Vector512<float> lane = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        return (Vector512.LessThan(lane, Vector512.Create((float)cols)), Vector512.LessThan(lane, Vector512.Create((float)(cols - 16))));
    }

    /// <summary>
    /// Rows i0 .. i1 of D, columns j0 .. j0+32 (clipped to D), with that column block of B at <paramref name="b"/>
    /// (row stride <paramref name="ldb"/>; 32: a zero-padded panel): whole 8-row tiles, then the remaining rows.
    /// </summary>
    static void Tiles(TileJob* g, int i0, int i1, int j0, float* b, long ldb)
    {
        int cols = Math.Min(32, g->N - j0);
        var (mask0, mask1) = TileMasks(cols);
        float* bias = g->Bias != null ? g->Bias + j0 : null;
        int full = (i1 - i0) / TileRows;
        for (int part = 0; part < 2; part++)
        {
            int rows = part == 0 ? TileRows : i1 - i0 - full * TileRows, tiles = part == 0 ? full : 1;
            if (rows == 0 || tiles == 0)
                continue;
            int r0 = i0 + (part == 0 ? 0 : full * TileRows);
            float* a = g->A + r0 * g->Rs;
            float* c = g->C + r0 * g->Ldc + j0;
            TileBlock(cols, rows, tiles, g->K, a, g->Rs, g->Ds, b, ldb, c, g->Ldc, mask0, mask1, g->Accumulate, bias, g->Activation);
        }
    }

    /// <summary>The tile of D at rows i0 .. i0+8, columns j0 .. j0+32 (clipped), computed on the stack and stored transposed into C.</summary>
    static void TransposedTile(TileJob* g, int i0, int j0, float* b, long ldb)
    {
        int rows = Math.Min(TileRows, g->M - i0), cols = Math.Min(32, g->N - j0);
        var (mask0, mask1) = TileMasks(cols);
        float* a = g->A + i0 * g->Rs;
        float* tile = stackalloc float[TileRows * 32];
        TileBlock(cols, rows, 1, g->K, a, g->Rs, g->Ds, b, ldb, tile, 32, mask0, mask1, false, null, Activation.None);
        // D(i0 + r, j0 + q) is C(j0 + q, i0 + r): 8 × 8 blocks by register transposes where nothing is added
        // (a scalar copy of dW2's 1280 values took as long as its FMAs), the rest one value at a time.
        int q0 = 0;
        if (rows == TileRows && !g->Accumulate && g->Bias == null && g->Activation == Activation.None)
            for (; q0 + 8 <= cols; q0 += 8)
                Transpose8x8(tile + q0, 32, g->C + (j0 + q0) * g->Ldc + i0, g->Ldc);
        for (int q = q0; q < cols; q++)
        {
            float* c = g->C + (j0 + q) * g->Ldc + i0;
            for (int r = 0; r < rows; r++)
            {
                float v = tile[r * 32 + q];
                if (g->Accumulate)
                    v += c[r];
                if (g->Bias != null)
                    v += g->Bias[i0 + r];
                c[r] = ApplyScalar(v, g->Activation);
            }
        }
    }

    /// <summary>
    /// Runs the tile kernel for a block of <paramref name="cols"/> ≤ 32 columns of B with row stride
    /// <paramref name="ldb"/>: plain loads where the block is 32 wide, zero-padded panel rows (ldb = 32) read whole
    /// and stored masked, otherwise masked loads and stores; one zmm column where cols ≤ 16.
    /// </summary>
    static void TileBlock(int cols, int rows, int tiles, int k, float* a, long rs, long ds, float* b, long ldb, float* c, long ldc,
        Vector512<float> mask0, Vector512<float> mask1, bool accumulate, float* bias, Activation act)
    {
        bool two = cols > 16;
        if (cols == 32)
            TileRowsOf<C2, C2>(rows, tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act);
        else if (ldb == 32 && two)
            TileRowsOf<C2, C3>(rows, tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act);
        else if (ldb == 32)
            TileRowsOf<C1, C3>(rows, tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act);
        else if (two)
            TileRowsOf<C2, C1>(rows, tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act);
        else
            TileRowsOf<C1, C1>(rows, tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act);
    }

    /// <summary>Runs the tile kernel instantiated for <paramref name="rows"/> rows and TW zmm columns.</summary>
    static void TileRowsOf<TW, TF>(int rows, int tiles, int k, float* a, long rs, long ds, float* b, long ldb, float* c, long ldc,
        Vector512<float> mask0, Vector512<float> mask1, bool accumulate, float* bias, Activation act)
        where TW : struct, IConstant where TF : struct, IConstant
    {
        switch (rows)
        {
            case 8: TileKernel<C8, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 7: TileKernel<C7, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 6: TileKernel<C6, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 5: TileKernel<C5, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 4: TileKernel<C4, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 3: TileKernel<C3, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            case 2: TileKernel<C2, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
            default: TileKernel<C1, TW, TF>(tiles, k, a, rs, ds, b, ldb, c, ldc, mask0, mask1, accumulate, bias, act); break;
        }
    }

    /// <summary>A compile-time integer: the JIT specializes a generic method per struct argument, so tests of <c>T.Value</c> fold away.</summary>
    interface IConstant { static abstract int Value { get; } }
    struct C1 : IConstant { public static int Value => 1; }
    struct C2 : IConstant { public static int Value => 2; }
    struct C3 : IConstant { public static int Value => 3; }
    struct C4 : IConstant { public static int Value => 4; }
    struct C5 : IConstant { public static int Value => 5; }
    struct C6 : IConstant { public static int Value => 6; }
    struct C7 : IConstant { public static int Value => 7; }
    struct C8 : IConstant { public static int Value => 8; }

    /// <summary>
    /// <paramref name="tiles"/> tiles of TR rows × TW zmm columns of D = op(A)·B, one below the other, each over the
    /// whole depth: per depth step TW loads of a row of B, TR broadcasts of op(A) (rows at a, a + rs, a + 2rs, ...),
    /// TR·TW FMAs; then accumulate, bias, activation and a (masked where TF = 1 or 3) store of each row. Looping
    /// over the tiles here rather than per call saves the call, the masks and the argument copies per tile, which
    /// cost as much as the FMAs where the depth is 10 (dH = dY·W2ᵀ).
    /// </summary>
    static void TileKernel<TR, TW, TF>(int tiles, int k, float* aTiles, long rs, long ds, float* b, long ldb, float* c, long ldc,
        Vector512<float> mask0, Vector512<float> mask1, bool accumulate, float* bias, Activation act)
        where TR : struct, IConstant where TW : struct, IConstant where TF : struct, IConstant
    {
        long rs2 = 2 * rs, rs3 = 3 * rs, tileA = TR.Value * rs, tileC = TR.Value * ldc;
        Vector512<float> bias0 = bias != null ? Avx512F.MaskLoad(bias, mask0, Vector512<float>.Zero) : Vector512<float>.Zero;
        Vector512<float> bias1 = bias != null && TW.Value == 2 ? Avx512F.MaskLoad(bias + 16, mask1, Vector512<float>.Zero) : Vector512<float>.Zero;
        bool relu = act == Activation.Relu;
        for (; tiles > 0; tiles--, aTiles += tileA, c += tileC)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
            float* a = aTiles, a4 = aTiles + 4 * rs, bp = b;
            for (int p = 0; p < k; p++)
            {
                // TF = 1 masks the loads of B: the JIT converts the mask in the loop, which costs a tenth of the FMA
                // slots, so full tiles (TF = 2) and zero-padded panels (TF = 3) load whole vectors.
                Vector512<float> b0 = TF.Value != 1 ? Vector512.Load(bp) : Avx512F.MaskLoad(bp, mask0, Vector512<float>.Zero);
                Vector512<float> b1 = TW.Value != 2 ? default : TF.Value != 1 ? Vector512.Load(bp + 16) : Avx512F.MaskLoad(bp + 16, mask1, Vector512<float>.Zero);
                { Vector512<float> x = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(x, b0, c00); if (TW.Value == 2) c01 = Vector512.FusedMultiplyAdd(x, b1, c01); }
                if (TR.Value > 1) { Vector512<float> x = Vector512.Create(a[rs]); c10 = Vector512.FusedMultiplyAdd(x, b0, c10); if (TW.Value == 2) c11 = Vector512.FusedMultiplyAdd(x, b1, c11); }
                if (TR.Value > 2) { Vector512<float> x = Vector512.Create(a[rs2]); c20 = Vector512.FusedMultiplyAdd(x, b0, c20); if (TW.Value == 2) c21 = Vector512.FusedMultiplyAdd(x, b1, c21); }
                if (TR.Value > 3) { Vector512<float> x = Vector512.Create(a[rs3]); c30 = Vector512.FusedMultiplyAdd(x, b0, c30); if (TW.Value == 2) c31 = Vector512.FusedMultiplyAdd(x, b1, c31); }
                if (TR.Value > 4) { Vector512<float> x = Vector512.Create(a4[0]); c40 = Vector512.FusedMultiplyAdd(x, b0, c40); if (TW.Value == 2) c41 = Vector512.FusedMultiplyAdd(x, b1, c41); }
                if (TR.Value > 5) { Vector512<float> x = Vector512.Create(a4[rs]); c50 = Vector512.FusedMultiplyAdd(x, b0, c50); if (TW.Value == 2) c51 = Vector512.FusedMultiplyAdd(x, b1, c51); }
                if (TR.Value > 6) { Vector512<float> x = Vector512.Create(a4[rs2]); c60 = Vector512.FusedMultiplyAdd(x, b0, c60); if (TW.Value == 2) c61 = Vector512.FusedMultiplyAdd(x, b1, c61); }
                if (TR.Value > 7) { Vector512<float> x = Vector512.Create(a4[rs3]); c70 = Vector512.FusedMultiplyAdd(x, b0, c70); if (TW.Value == 2) c71 = Vector512.FusedMultiplyAdd(x, b1, c71); }
                a += ds;
                a4 += ds;
                bp += ldb;
            }
            StoreRow<TW, TF>(c, c00, c01, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 1) StoreRow<TW, TF>(c + ldc, c10, c11, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 2) StoreRow<TW, TF>(c + 2 * ldc, c20, c21, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 3) StoreRow<TW, TF>(c + 3 * ldc, c30, c31, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 4) StoreRow<TW, TF>(c + 4 * ldc, c40, c41, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 5) StoreRow<TW, TF>(c + 5 * ldc, c50, c51, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 6) StoreRow<TW, TF>(c + 6 * ldc, c60, c61, mask0, mask1, accumulate, bias0, bias1, relu);
            if (TR.Value > 7) StoreRow<TW, TF>(c + 7 * ldc, c70, c71, mask0, mask1, accumulate, bias0, bias1, relu);
            if (act > Activation.Relu)
                ActivateTile(c, ldc, TR.Value, TW.Value, mask0, mask1, act);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow<TW, TF>(float* c, Vector512<float> v0, Vector512<float> v1, Vector512<float> mask0, Vector512<float> mask1,
        bool accumulate, Vector512<float> bias0, Vector512<float> bias1, bool relu) where TW : struct, IConstant where TF : struct, IConstant
    {
        if (accumulate)
            v0 += TF.Value == 2 ? Vector512.Load(c) : Avx512F.MaskLoad(c, mask0, Vector512<float>.Zero);
        v0 += bias0;
        if (relu)
            v0 = Vector512.Max(v0, Vector512<float>.Zero);
        if (TF.Value == 2)
            v0.Store(c);
        else
            Avx512F.MaskStore(c, mask0, v0);
        if (TW.Value == 2)
        {
            if (accumulate)
                v1 += TF.Value == 2 ? Vector512.Load(c + 16) : Avx512F.MaskLoad(c + 16, mask1, Vector512<float>.Zero);
            v1 += bias1;
            if (relu)
                v1 = Vector512.Max(v1, Vector512<float>.Zero);
            if (TF.Value == 2)
                v1.Store(c + 16);
            else
                Avx512F.MaskStore(c + 16, mask1, v1);
        }
    }

    /// <summary>Applies tanh or sigmoid to a stored tile (out of line, so the kernel's accumulators are never spilled around it).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void ActivateTile(float* c, long ldc, int rows, int width, Vector512<float> mask0, Vector512<float> mask1, Activation act)
    {
        for (int r = 0; r < rows; r++, c += ldc)
        {
            Vector512<float> v = Avx512F.MaskLoad(c, mask0, Vector512<float>.Zero);
            Avx512F.MaskStore(c, mask0, act == Activation.Tanh ? VMath.Tanh(v) : VMath.Sigmoid(v));
            if (width == 2)
            {
                v = Avx512F.MaskLoad(c + 16, mask1, Vector512<float>.Zero);
                Avx512F.MaskStore(c + 16, mask1, act == Activation.Tanh ? VMath.Tanh(v) : VMath.Sigmoid(v));
            }
        }
    }
}
