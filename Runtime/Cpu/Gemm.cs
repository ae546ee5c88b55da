using System;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Threading;

namespace ModelGen.Cpu;

/// <summary>
/// Single-precision matrix multiplication, BLIS style: op(B) is packed into KC × NR slivers, op(A) into MR × KC
/// slivers (packing reads either storage order, so transposes are never materialized), and a register-blocked
/// micro-kernel computes each MR × NR tile of C: 6 × 32 with Vector512 FMAs, 6 × 16 with Vector256 FMAs, or
/// 6 × 8 in scalar code; large AVX-512 products take 12 × 32 tiles at twice the depth (Gemm.Tall.cs). The bias and activation are applied as the tile is stored after its last K block.
/// Large products are split across <see cref="CpuFeatures.Threads"/> threads (the dimension with more tiles is
/// split); packing buffers are per thread and reused, so a call allocates nothing once warmed up.
/// </summary>
public static unsafe partial class Gemm
{
    const int MR = 6;
    const int MC = 96;          // rows of op(A) packed at once (a multiple of MR): MC × KC floats stay in L2
    const int KC = 256;         // depth of one packed block
    const int NC = 2048;        // columns of op(B) packed at once (a multiple of every NR): KC × NC floats = 2 MiB, in L3
    const int MaxNR = 32;

    /// <summary>
    /// Products with at most this many rows and an untransposed B (batch-1 inference) skip packing: streaming B once
    /// straight from its rows costs less than packing it, which a product this thin would never repay.
    /// </summary>
    const int SmallRows = 4;

    /// <summary>
    /// Products with at least this many multiply-adds (and enough rows for 4 items per thread, and columns too many
    /// to read op(A) unpacked) share one packed op(B) panel between the threads,
    /// which then take MC-row blocks of op(A) from a ticket: nothing is packed twice, and a thread the machine delays
    /// costs one block, not half the product.
    /// </summary>
    const long SharedThreshold = 1L << 24;

    /// <summary>Rows of C per item of the shared-panel path (a multiple of MR): small enough for an even share per thread.</summary>
    const int SharedMC = 48;

    /// <summary>Column panels at most this wide use op(A) unpacked (see <see cref="Block"/>).</summary>
    const int DirectAColumns = 128;

    /// <summary>Products with fewer multiply-adds than this stay on the calling thread.</summary>
    const long ParallelThreshold = 1L << 17;

    /// <summary>
    /// C (m × n) = op(A) (m × k) · op(B) (k × n) [+ bias broadcast over rows], then <paramref name="activation"/>;
    /// or, with <paramref name="accumulate"/>, C += op(A) · op(B).
    /// </summary>
    /// <param name="transA">False: A is stored m × k with row stride <paramref name="lda"/>; true: A is stored k × m and op(A) = Aᵀ.</param>
    /// <param name="transB">False: B is stored k × n with row stride <paramref name="ldb"/>; true: B is stored n × k and op(B) = Bᵀ.</param>
    /// <param name="m">Rows of C.</param>
    /// <param name="n">Columns of C.</param>
    /// <param name="k">The inner dimension.</param>
    /// <param name="a">The elements of A, row-major with stride <paramref name="lda"/>.</param>
    /// <param name="lda">The row stride of A (at least its column count).</param>
    /// <param name="b">The elements of B, row-major with stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">The row stride of B (at least its column count).</param>
    /// <param name="c">The output, row-major m × n with stride <paramref name="ldc"/>; read only when accumulating.</param>
    /// <param name="ldc">The row stride of C (at least n).</param>
    /// <param name="bias">Empty, or n values added to every row of the product.</param>
    /// <param name="activation">The function applied to every element after the bias.</param>
    /// <param name="accumulate">Add the product to C (no bias or activation allowed then).</param>
    /// <exception cref="ArgumentException">A dimension, stride or span length does not fit, or bias/activation is combined with accumulate.</exception>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        ReadOnlySpan<float> bias = default, Activation activation = Activation.None, bool accumulate = false)
        => SgemmCore(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias, activation, accumulate, CpuFeatures.Threads);

    /// <summary><see cref="Sgemm(bool, bool, int, int, int, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, Span{float}, int, ReadOnlySpan{float}, Activation, bool)"/>
    /// on the calling thread alone: for kernels that already run on the <see cref="WorkerPool"/> (a pool body must not use the pool).</summary>
    internal static void SgemmSerial(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc, bool accumulate = false)
        => SgemmCore(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, default, Activation.None, accumulate, 1);

    static void SgemmCore(bool transA, bool transB, int m, int n, int k,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, Span<float> c, int ldc,
        ReadOnlySpan<float> bias, Activation activation, bool accumulate, int threads)
    {
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"Sgemm dimensions must be non-negative (m={m}, n={n}, k={k}).");
        if (accumulate && (!bias.IsEmpty || activation != Activation.None))
            throw new ArgumentException("Sgemm cannot apply a bias or an activation while accumulating into C.", nameof(accumulate));
        if (activation < Activation.None || activation > Activation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (m == 0 || n == 0)
            return;
        CheckOperand(a.Length, lda, transA ? k : m, transA ? m : k, nameof(a), nameof(lda));
        CheckOperand(b.Length, ldb, transB ? n : k, transB ? k : n, nameof(b), nameof(ldb));
        CheckOperand(c.Length, ldc, m, n, nameof(c), nameof(ldc));
        if (!bias.IsEmpty && bias.Length < n)
            throw new ArgumentException($"The bias has {bias.Length} values but C has {n} columns.", nameof(bias));

        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        {
            var args = new Args
            {
                A = pa, B = pb, BLength = b.Length, C = pc, Bias = bias.IsEmpty ? null : pbias,
                Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k,
                TransA = transA, TransB = transB, Accumulate = accumulate, Activation = activation,
                Level = KernelLevel(CpuFeatures.Active, n),
            };
            if (k == 0)
            {
                EpilogueOnly(&args);
                return;
            }
            if (m <= SmallRows && !transB && CpuFeatures.Active == SimdLevel.Avx512)
            {
                SmallM512(&args);
                return;
            }
            if (TryRunTiles(&args, threads))
                return;

            if (threads > 1 && (long)m * n * k >= SharedThreshold && m >= 4 * threads * SharedMC && n > 4 * DirectAColumns
                && TryRunShared(&args, threads))
                return;
            if (threads > 1 && (long)m * n * k >= ParallelThreshold)
            {
                int nr = NrOf(args.Level);
                int mTiles = (m + MR - 1) / MR, nTiles = (n + nr - 1) / nr;
                // Every thread packs the whole of the operand along the dimension it does not split: splitting
                // N repeats the packing of op(A) (m·k values), splitting M that of op(B) (k·n). Split N when that
                // repeats less, provided there are enough column tiles to go round.
                args.SplitN = nTiles >= threads && (m <= n || mTiles < threads);
                // More chunks than threads where that repeats little or no packing, so that a thread the machine
                // delays holds up one small chunk (the others take the rest from the ticket): column chunks narrow
                // enough to read op(A) unpacked, or row chunks of at least 96 rows (each packs op(B) once more).
                int chunks = threads;
                if (args.SplitN && args.Level == SimdLevel.Avx512 && n <= DirectAColumns * 4 * threads)
                    chunks = 4 * threads;
                else if (!args.SplitN)
                    chunks = Math.Clamp(m / MC, threads, 4 * threads);
                args.Chunks = Math.Min(chunks, args.SplitN ? nTiles : mTiles);
                if (args.Chunks > 1 && WorkerPool.TryRun(&RunChunk, (nint)(&args), args.Chunks, threads))
                    return;
            }
            Run(&args, 0, m, 0, n);
        }
    }

    static void CheckOperand(int length, int ld, int rows, int cols, string name, string ldName)
    {
        if (ld < cols || ld < 1)
            throw new ArgumentException($"Stride {ldName}={ld} is smaller than the {cols} columns stored per row of {name}.", ldName);
        if (rows == 0 || cols == 0)
            return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"Span {name} has {length} elements but a {rows} x {cols} matrix with stride {ld} needs {needed}.", name);
    }

    struct Args
    {
        public float* A, B, C, Bias;
        public int Lda, Ldb, Ldc, M, N, K;
        public long BLength;
        public bool TransA, TransB, Accumulate;
        public Activation Activation;
        public SimdLevel Level;
        public bool SplitN;
        public int Chunks;
        // The shared-panel path: the current block of op(B) and its packed copy.
        public int Jc, Nc, Pc, Kc, PackChunks;
        public float* SharedB;
    }

    /// <summary>
    /// The micro-kernel for a product with <paramref name="n"/> columns: the 6 × 16 AVX2 kernel also serves
    /// AVX-512 machines when n ≤ 16, where a 32-wide tile would mostly compute padding.
    /// </summary>
    static SimdLevel KernelLevel(SimdLevel active, int n) =>
        active == SimdLevel.Avx512 && n <= 16 && Fma.IsSupported ? SimdLevel.Avx2 : active;

    static int NrOf(SimdLevel level) => level switch { SimdLevel.Avx512 => 32, SimdLevel.Avx2 => 16, _ => 8 };

    /// <summary>Chunk <paramref name="index"/> of a parallel product: a balanced range of whole tiles along the split dimension.</summary>
    static void RunChunk(nint context, int index)
    {
        var g = (Args*)context;
        int unit = g->SplitN ? NrOf(g->Level) : MR;
        int extent = g->SplitN ? g->N : g->M;
        int tiles = (extent + unit - 1) / unit;
        int start = (int)((long)tiles * index / g->Chunks) * unit;
        int end = Math.Min(extent, (int)((long)tiles * (index + 1) / g->Chunks) * unit);
        if (start >= end)
            return;
        if (g->SplitN)
            Run(g, 0, g->M, start, end);
        else
            Run(g, start, end, 0, g->N);
    }

    /// <summary>
    /// C = op(A)·B for a few rows with B untransposed and unpacked: per row of C, blocks of 128 columns in 8 zmm
    /// accumulators (then 16, then scalar), each depth step one broadcast of A and 8 loads of a row of B.
    /// </summary>
    static void SmallM512(Args* g)
    {
        int n = g->N, k = g->K;
        long lda = g->Lda, ldb = g->Ldb, ldc = g->Ldc;
        long aRow = g->TransA ? 1 : lda, aDepth = g->TransA ? lda : 1;
        float* acc = stackalloc float[16];
        for (int i = 0; i < g->M; i++)
        {
            float* a = g->A + i * aRow;
            float* c = g->C + i * ldc;
            int j = 0;
            for (; j + 128 <= n; j += 128)
                SmallBlock128(a, aDepth, g->B + j, ldb, k, c + j, g->Bias != null ? g->Bias + j : null, g->Accumulate, g->Activation);
            for (; j + 16 <= n; j += 16)
            {
                Vector512<float> sum = default;
                float* b = g->B + j;
                for (int p = 0; p < k; p++, b += ldb)
                    sum = Vector512.FusedMultiplyAdd(Vector512.Create(a[p * aDepth]), Vector512.Load(b), sum);
                if (g->Accumulate)
                    sum += Vector512.Load(c + j);
                if (g->Bias != null)
                    sum += Vector512.Load(g->Bias + j);
                Apply512(c + j, sum, g->Activation);
            }
            if (j < n)
            {
                // Fewer than 16 columns left: full-width loads of B while they stay inside B (the extra lanes are
                // discarded), scalar for the last rows; two chains to halve the FMA latency.
                int cols = n - j;
                Vector512<float> even = default, odd = default;
                float* b = g->B + j;
                long end = g->BLength - 16 - j;   // rows p with p·ldb <= end can be loaded 16 wide
                int vecRows = end < 0 ? 0 : (int)Math.Min(k, end / ldb + 1);
                int p = 0;
                for (; p + 1 < vecRows; p += 2, b += 2 * ldb)
                {
                    even = Vector512.FusedMultiplyAdd(Vector512.Create(a[p * aDepth]), Vector512.Load(b), even);
                    odd = Vector512.FusedMultiplyAdd(Vector512.Create(a[(p + 1) * aDepth]), Vector512.Load(b + ldb), odd);
                }
                (even + odd).Store(acc);
                for (; p < k; p++, b += ldb)
                {
                    float x = a[p * aDepth];
                    for (int q = 0; q < cols; q++)
                        acc[q] += x * b[q];
                }
                for (int q = 0; q < cols; q++)
                {
                    float v = acc[q];
                    if (g->Accumulate)
                        v += c[j + q];
                    if (g->Bias != null)
                        v += g->Bias[j + q];
                    c[j + q] = ApplyScalar(v, g->Activation);
                }
            }
        }
    }

    /// <summary>One row of C, 128 columns: Σ_p a[p·aDepth] · b[p·ldb .. +128], then the epilogue.</summary>
    static void SmallBlock128(float* a, long aDepth, float* b, long ldb, int k, float* c, float* bias, bool accumulate, Activation act)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (int p = 0; p < k; p++, b += ldb)
        {
            Vector512<float> x = Vector512.Create(a[p * aDepth]);
            c0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b), c0);
            c1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 16), c1);
            c2 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 32), c2);
            c3 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 48), c3);
            c4 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 64), c4);
            c5 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 80), c5);
            c6 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 96), c6);
            c7 = Vector512.FusedMultiplyAdd(x, Vector512.Load(b + 112), c7);
        }
        Store512(c, c0, accumulate); Store512(c + 16, c1, accumulate); Store512(c + 32, c2, accumulate); Store512(c + 48, c3, accumulate);
        Store512(c + 64, c4, accumulate); Store512(c + 80, c5, accumulate); Store512(c + 96, c6, accumulate); Store512(c + 112, c7, accumulate);
        if (bias != null || act != Activation.None)
            for (int q = 0; q < 128; q += 16)
                Apply512(c + q, Vector512.Load(c + q) + (bias != null ? Vector512.Load(bias + q) : Vector512<float>.Zero), act);
    }

    /// <summary>C with k = 0: the product is zero, so C = activation(bias), or C unchanged when accumulating.</summary>
    static void EpilogueOnly(Args* g)
    {
        if (g->Accumulate)
            return;
        for (int i = 0; i < g->M; i++)
        {
            float* row = g->C + (long)i * g->Ldc;
            for (int j = 0; j < g->N; j++)
                row[j] = ApplyScalar(g->Bias != null ? g->Bias[j] : 0f, g->Activation);
        }
    }

    // Per-thread packing buffers: pinned arrays, 64-byte aligned, allocated once per thread at their full size.
    [ThreadStatic] static float[]? t_packA;
    [ThreadStatic] static float* t_packAPtr;
    [ThreadStatic] static float[]? t_packB;
    [ThreadStatic] static float* t_packBPtr;

    static float* AlignedPointer(float[] array)
    {
        // The array is pinned (allocated on the pinned object heap), so its address is stable.
        float* p = (float*)Unsafe.AsPointer(ref array[0]);
        long misalignment = (long)p & 63;
        return misalignment == 0 ? p : (float*)((byte*)p + (64 - misalignment));
    }

    static float* PackABuffer()
    {
        if (t_packA == null)
        {
            t_packA = GC.AllocateArray<float>(MC * KC + 16, pinned: true);
            t_packAPtr = AlignedPointer(t_packA);
        }
        return t_packAPtr;
    }

    static float* PackBBuffer()
    {
        // Full size at once, whatever this call needs: which chunk a thread gets varies from call to call, and a
        // buffer that grew later would make a warmed-up call allocate.
        if (t_packB == null)
        {
            t_packB = GC.AllocateArray<float>(KC * NC + 16, pinned: true);
            t_packBPtr = AlignedPointer(t_packB);
        }
        return t_packBPtr;
    }

    /// <summary>The five BLIS loops over the block rows [m0, m1) × columns [n0, n1) of C.</summary>
    static void Run(Args* g, int m0, int m1, int n0, int n1)
    {
        int nr = NrOf(g->Level);
        int k = g->K;
        float* packA = PackABuffer();
        float* packB = PackBBuffer();
        float* edge = stackalloc float[TallMR * MaxNR];
        // Deep blocks (large AVX-512 products, see DepthBlock) keep the buffers' sizes: half as many rows and columns.
        int kcMax = DepthBlock(g), ncMax = KC * NC / kcMax, mcMax = MC * KC / kcMax;
        bool tall = kcMax == TallKC;

        for (int jc = n0; jc < n1; jc += ncMax)
        {
            int nc = Math.Min(ncMax, n1 - jc);
            for (int pc = 0; pc < k; pc += kcMax)
            {
                int kc = Math.Min(kcMax, k - pc);
                PackB(g, pc, kc, jc, nc, nr, packB);
                for (int ic = m0; ic < m1; ic += mcMax)
                {
                    if (tall && nc > DirectAColumns)
                        BlockTall(g, ic, Math.Min(mcMax, m1 - ic), m1, jc, nc, pc, kc, packB, packA, edge);
                    else
                        Block(g, ic, Math.Min(mcMax, m1 - ic), m1, jc, nc, pc, kc, packB, packA, edge);
                }
            }
        }
    }

    /// <summary>
    /// Rows [ic, ic + mc) of C against one packed panel of op(B) (columns jc .. jc+nc, depth pc .. pc+kc): packs that
    /// block of op(A), then runs the micro-kernel over every tile (the epilogue after the last depth block).
    /// </summary>
    static void Block(Args* g, int ic, int mc, int rowEnd, int jc, int nc, int pc, int kc, float* packB, float* packA, float* edge)
    {
        SimdLevel level = g->Level;
        int nr = NrOf(level);
        int ldc = g->Ldc;
        bool load = pc > 0 || g->Accumulate;
        bool last = pc + kc == g->K;
        Activation act = last ? g->Activation : Activation.None;
        // Few column slivers reuse each packed row block of op(A) only a few times, too few to repay packing it: the
        // AVX-512 kernel then reads op(A) where it is stored (either storage order) and only a partial last MR-row
        // sliver is packed.
        bool direct = level == SimdLevel.Avx512 && nc <= DirectAColumns;
        int fullRows = direct ? mc / MR * MR : 0;
        long rowStride = g->TransA ? 1 : g->Lda, depthStride = g->TransA ? g->Lda : 1;
        if (!direct)
            PackA(g, ic, mc, rowEnd, pc, kc, packA);
        else if (fullRows < mc)
            PackA(g, ic + fullRows, mc - fullRows, rowEnd, pc, kc, packA + (long)fullRows * kc);
        for (int jr = 0; jr < nc; jr += nr)
        {
            int nrEff = Math.Min(nr, nc - jr);
            float* bSliver = packB + (long)jr * kc;
            float* biasTile = last && g->Bias != null ? g->Bias + jc + jr : null;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mrEff = Math.Min(MR, mc - ir);
                float* aSliver = packA + (long)ir * kc;
                float* cTile = g->C + (long)(ic + ir) * ldc + jc + jr;
                if (ir < fullRows && nrEff == nr)
                {
                    Kernel6x32Direct(kc, g->A + (ic + ir) * rowStride + pc * depthStride, rowStride, depthStride, bSliver, cTile, ldc, load, biasTile, act);
                }
                else if (ir < fullRows)
                {
                    Kernel6x32Direct(kc, g->A + (ic + ir) * rowStride + pc * depthStride, rowStride, depthStride, bSliver, edge, nr, false, null, Activation.None);
                    MergeEdge(edge, nr, cTile, ldc, mrEff, nrEff, load, biasTile, act);
                }
                else if (mrEff == MR && nrEff == nr)
                {
                    MicroKernel(level, kc, aSliver, bSliver, cTile, ldc, load, biasTile, act);
                }
                else
                {
                    MicroKernel(level, kc, aSliver, bSliver, edge, nr, false, null, Activation.None);
                    MergeEdge(edge, nr, cTile, ldc, mrEff, nrEff, load, biasTile, act);
                }
            }
        }
    }

    static readonly object s_sharedLock = new();
    static float[]? s_sharedB;
    static float* s_sharedBPtr;

    /// <summary>
    /// The shared-panel parallel product: per (jc, pc) block, the threads pack op(B) together into one buffer, then
    /// claim MC-row blocks of C. False when another thread holds the shared panel or the pool (the caller then takes
    /// the per-thread path).
    /// </summary>
    static bool TryRunShared(Args* g, int threads)
    {
        if (!Monitor.TryEnter(s_sharedLock))
            return false;
        try
        {
            if (s_sharedB == null)
            {
                s_sharedB = GC.AllocateArray<float>(KC * NC + 16, pinned: true);
                s_sharedBPtr = AlignedPointer(s_sharedB);
            }
            g->SharedB = s_sharedBPtr;
            int nr = NrOf(g->Level);
            int blocks = (g->M + SharedMC - 1) / SharedMC;
            int kcMax = DepthBlock(g), ncMax = KC * NC / kcMax;
            bool first = true;
            for (int jc = 0; jc < g->N; jc += ncMax)
            {
                g->Jc = jc;
                g->Nc = Math.Min(ncMax, g->N - jc);
                int slivers = (g->Nc + nr - 1) / nr;
                g->PackChunks = Math.Min(threads, slivers);
                for (int pc = 0; pc < g->K; pc += kcMax)
                {
                    g->Pc = pc;
                    g->Kc = Math.Min(kcMax, g->K - pc);
                    if (!WorkerPool.TryRun(&PackSharedChunk, (nint)g, g->PackChunks, threads))
                    {
                        if (first)
                            return false;   // nothing written yet: the caller can still take another path
                        PackB(g, pc, g->Kc, jc, g->Nc, nr, g->SharedB);
                    }
                    first = false;
                    if (!WorkerPool.TryRun(&SharedBlock, (nint)g, blocks, threads))
                        for (int b = 0; b < blocks; b++)
                            SharedBlock((nint)g, b);
                }
            }
            return true;
        }
        finally
        {
            Monitor.Exit(s_sharedLock);
        }
    }

    /// <summary>Packs a balanced range of whole NR slivers of the current op(B) panel into the shared buffer.</summary>
    static void PackSharedChunk(nint context, int index)
    {
        var g = (Args*)context;
        int nr = NrOf(g->Level);
        int slivers = (g->Nc + nr - 1) / nr;
        int start = (int)((long)slivers * index / g->PackChunks) * nr;
        int end = Math.Min(g->Nc, (int)((long)slivers * (index + 1) / g->PackChunks) * nr);
        if (start < end)
            PackB(g, g->Pc, g->Kc, g->Jc + start, end - start, nr, g->SharedB + (long)start * g->Kc);
    }

    /// <summary>MC-row block <paramref name="index"/> of C against the shared panel.</summary>
    static void SharedBlock(nint context, int index)
    {
        var g = (Args*)context;
        float* edge = stackalloc float[TallMR * MaxNR];
        int ic = index * SharedMC;
        if (DepthBlock(g) == TallKC)
        {
            BlockTall(g, ic, Math.Min(SharedMC, g->M - ic), g->M, g->Jc, g->Nc, g->Pc, g->Kc, g->SharedB, PackABuffer(), edge);
            return;
        }
        Block(g, ic, Math.Min(SharedMC, g->M - ic), g->M, g->Jc, g->Nc, g->Pc, g->Kc, g->SharedB, PackABuffer(), edge);
    }

    /// <summary>Packs op(A)[rows ic .. ic+mc, depth pc .. pc+kc] as MR-row slivers, element (i, p) at [p·MR + i]; rows at or past rowEnd are zero.</summary>
    static void PackA(Args* g, int ic, int mc, int rowEnd, int pc, int kc, float* dst)
    {
        float* a = g->A;
        long lda = g->Lda;
        for (int ir = 0; ir < mc; ir += MR, dst += MR * kc)
        {
            int r0 = ic + ir;
            int rows = Math.Min(MR, rowEnd - r0);
            if (!g->TransA)
            {
                // op(A)(i, p) = a[i·lda + p]: gather one value from each of the MR row streams per depth step, so the
                // writes are sequential (writing each row with stride MR is several times slower).
                if (rows == MR)
                {
                    float* s0 = a + r0 * lda + pc, s1 = s0 + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
                    float* d = dst;
                    for (int p = 0; p < kc; p++, d += MR)
                    {
                        d[0] = s0[p]; d[1] = s1[p]; d[2] = s2[p]; d[3] = s3[p]; d[4] = s4[p]; d[5] = s5[p];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++)
                    {
                        float* d = dst + p * MR;
                        int i = 0;
                        for (; i < rows; i++)
                            d[i] = a[(r0 + i) * lda + pc + p];
                        for (; i < MR; i++)
                            d[i] = 0f;
                    }
                }
            }
            else
            {
                // op(A)(i, p) = a[p·lda + i]: MR consecutive floats per depth step.
                for (int p = 0; p < kc; p++)
                {
                    float* s = a + (pc + p) * lda + r0;
                    float* d = dst + p * MR;
                    int i = 0;
                    for (; i < rows; i++)
                        d[i] = s[i];
                    for (; i < MR; i++)
                        d[i] = 0f;
                }
            }
        }
    }

    /// <summary>Packs op(B)[depth pc .. pc+kc, columns jc .. jc+nc] as nr-column slivers, element (p, j) at [p·nr + j]; columns past nc are zero.</summary>
    static void PackB(Args* g, int pc, int kc, int jc, int nc, int nr, float* dst)
    {
        float* b = g->B;
        long ldb = g->Ldb;
        for (int jr = 0; jr < nc; jr += nr, dst += nr * kc)
        {
            int j0 = jc + jr;
            int cols = Math.Min(nr, nc - jr);
            if (!g->TransB)
            {
                // op(B)(p, j) = b[p·ldb + j]: nr consecutive floats per depth step.
                for (int p = 0; p < kc; p++)
                {
                    float* s = b + (pc + p) * ldb + j0;
                    float* d = dst + p * nr;
                    if (cols == 32)
                    {
                        // nr = 32 only at the AVX-512 level: two zmm copies, not a 128-byte memmove call per row
                        // (+1.2-1.7 % at 1024³ NN, 2 threads, same process alternating).
                        Vector512.Store(Vector512.Load(s), d);
                        Vector512.Store(Vector512.Load(s + 16), d + 16);
                    }
                    else if (cols == nr)
                    {
                        new ReadOnlySpan<float>(s, nr).CopyTo(new Span<float>(d, nr));
                    }
                    else
                    {
                        int j = 0;
                        for (; j < cols; j++)
                            d[j] = s[j];
                        for (; j < nr; j++)
                            d[j] = 0f;
                    }
                }
            }
            else
            {
                // op(B)(p, j) = b[j·ldb + p]: per depth step, one value from each of the nr row streams, written
                // sequentially (the nr source lines stay in L1 across 16 consecutive depth steps).
                int p0 = 0;
                if (cols == nr && nr % 8 == 0 && Avx.IsSupported && g->Level != SimdLevel.Scalar)
                {
                    for (; p0 + 8 <= kc; p0 += 8)
                        for (int j = 0; j < nr; j += 8)
                            Transpose8x8(b + (j0 + j) * ldb + pc + p0, ldb, dst + p0 * nr + j, nr);
                }
                for (int p = p0; p < kc; p++)
                {
                    float* s = b + j0 * ldb + pc + p;
                    float* d = dst + p * nr;
                    int j = 0;
                    for (; j < cols; j++)
                        d[j] = s[j * ldb];
                    for (; j < nr; j++)
                        d[j] = 0f;
                }
            }
        }
    }

    /// <summary>
    /// Writes the transpose of the 8 × 8 block at <paramref name="src"/> (row stride <paramref name="lds"/>) to
    /// <paramref name="dst"/> (row stride <paramref name="ldd"/>): unpack pairs of rows, shuffle pairs of pairs,
    /// then exchange 128-bit halves.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* src, long lds, float* dst, long ldd)
    {
        Transpose8x8Rows(src, lds, out var v0, out var v1, out var v2, out var v3, out var v4, out var v5, out var v6, out var v7);
        v0.Store(dst); v1.Store(dst + ldd); v2.Store(dst + 2 * ldd); v3.Store(dst + 3 * ldd);
        v4.Store(dst + 4 * ldd); v5.Store(dst + 5 * ldd); v6.Store(dst + 6 * ldd); v7.Store(dst + 7 * ldd);
    }

    /// <summary>The rows of the transpose of the 8 × 8 block at <paramref name="src"/> (row stride <paramref name="lds"/>), in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8Rows(float* src, long lds, out Vector256<float> v0, out Vector256<float> v1, out Vector256<float> v2,
        out Vector256<float> v3, out Vector256<float> v4, out Vector256<float> v5, out Vector256<float> v6, out Vector256<float> v7)
    {
        Vector256<float> r0 = Avx.LoadVector256(src), r1 = Avx.LoadVector256(src + lds);
        Vector256<float> r2 = Avx.LoadVector256(src + 2 * lds), r3 = Avx.LoadVector256(src + 3 * lds);
        Vector256<float> r4 = Avx.LoadVector256(src + 4 * lds), r5 = Avx.LoadVector256(src + 5 * lds);
        Vector256<float> r6 = Avx.LoadVector256(src + 6 * lds), r7 = Avx.LoadVector256(src + 7 * lds);
        Vector256<float> t0 = Avx.UnpackLow(r0, r1), t1 = Avx.UnpackHigh(r0, r1);
        Vector256<float> t2 = Avx.UnpackLow(r2, r3), t3 = Avx.UnpackHigh(r2, r3);
        Vector256<float> t4 = Avx.UnpackLow(r4, r5), t5 = Avx.UnpackHigh(r4, r5);
        Vector256<float> t6 = Avx.UnpackLow(r6, r7), t7 = Avx.UnpackHigh(r6, r7);
        Vector256<float> u0 = Avx.Shuffle(t0, t2, 0x44), u1 = Avx.Shuffle(t0, t2, 0xEE);
        Vector256<float> u2 = Avx.Shuffle(t1, t3, 0x44), u3 = Avx.Shuffle(t1, t3, 0xEE);
        Vector256<float> u4 = Avx.Shuffle(t4, t6, 0x44), u5 = Avx.Shuffle(t4, t6, 0xEE);
        Vector256<float> u6 = Avx.Shuffle(t5, t7, 0x44), u7 = Avx.Shuffle(t5, t7, 0xEE);
        v0 = Avx.Permute2x128(u0, u4, 0x20); v1 = Avx.Permute2x128(u1, u5, 0x20);
        v2 = Avx.Permute2x128(u2, u6, 0x20); v3 = Avx.Permute2x128(u3, u7, 0x20);
        v4 = Avx.Permute2x128(u0, u4, 0x31); v5 = Avx.Permute2x128(u1, u5, 0x31);
        v6 = Avx.Permute2x128(u2, u6, 0x31); v7 = Avx.Permute2x128(u3, u7, 0x31);
    }

    /// <summary>Stores a partial tile computed into <paramref name="edge"/> (stride <paramref name="nr"/>) with the epilogue.</summary>
    static void MergeEdge(float* edge, int nr, float* c, int ldc, int rows, int cols, bool load, float* bias, Activation act)
    {
        for (int i = 0; i < rows; i++)
        {
            float* src = edge + i * nr;
            float* dst = c + (long)i * ldc;
            for (int j = 0; j < cols; j++)
            {
                float v = src[j];
                if (load)
                    v += dst[j];
                if (bias != null)
                    v += bias[j];
                dst[j] = ApplyScalar(v, act);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float ApplyScalar(float v, Activation act) => act switch
    {
        Activation.Relu => v > 0f ? v : 0f,
        Activation.Tanh => VMath.Tanh(v),
        Activation.Sigmoid => VMath.Sigmoid(v),
        _ => v,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MicroKernel(SimdLevel level, int kc, float* a, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        if (level == SimdLevel.Avx512)
            Kernel6x32(kc, a, b, c, ldc, load, bias, act);
        else if (level == SimdLevel.Avx2)
            Kernel6x16(kc, a, b, c, ldc, load, bias, act);
        else
            Kernel6x8(kc, a, b, c, ldc, load, bias, act);
    }

    /// <summary>The AVX-512 micro-kernel: a 6 × 32 tile in 12 zmm accumulators; per depth step 2 loads of B, 6 broadcasts of A, 12 FMAs.</summary>
    static void Kernel6x32(int kc, float* a, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 32;
        }
        long ld = ldc;
        float* c0 = c;
        Store512(c, c00, load); Store512(c + 16, c01, load);
        c += ld;
        Store512(c, c10, load); Store512(c + 16, c11, load);
        c += ld;
        Store512(c, c20, load); Store512(c + 16, c21, load);
        c += ld;
        Store512(c, c30, load); Store512(c + 16, c31, load);
        c += ld;
        Store512(c, c40, load); Store512(c + 16, c41, load);
        c += ld;
        Store512(c, c50, load); Store512(c + 16, c51, load);
        if (bias != null || act != Activation.None)
            Epilogue512(c0, ldc, bias, act);
    }

    /// <summary>
    /// <see cref="Kernel6x32"/> reading op(A) unpacked: element (i, p) of the sliver at a[i·rowStride + p·depthStride]
    /// (rowStride = lda, depthStride = 1 for A; 1 and lda for Aᵀ).
    /// </summary>
    static void Kernel6x32Direct(int kc, float* a, long rowStride, long depthStride, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        long o1 = rowStride, o2 = 2 * rowStride, o3 = 3 * rowStride, o4 = 4 * rowStride, o5 = 5 * rowStride;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b);
            Vector512<float> b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[o1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[o2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[o3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[o4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[o5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a += depthStride;
            b += 32;
        }
        long ld = ldc;
        float* c0 = c;
        Store512(c, c00, load); Store512(c + 16, c01, load);
        c += ld;
        Store512(c, c10, load); Store512(c + 16, c11, load);
        c += ld;
        Store512(c, c20, load); Store512(c + 16, c21, load);
        c += ld;
        Store512(c, c30, load); Store512(c + 16, c31, load);
        c += ld;
        Store512(c, c40, load); Store512(c + 16, c41, load);
        c += ld;
        Store512(c, c50, load); Store512(c + 16, c51, load);
        if (bias != null || act != Activation.None)
            Epilogue512(c0, ldc, bias, act);
    }

    // The micro-kernels keep their loop free of calls so that the JIT holds all accumulators in registers (the
    // SysV ABI has no callee-saved vector registers, so an inlined tanh/exp in the same method makes it spill them).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store512(float* c, Vector512<float> v, bool load)
    {
        if (load)
            v += Vector512.Load(c);
        v.Store(c);
    }

    /// <summary>Adds the bias and applies the activation to a stored 6 × 32 tile (after the last K block only).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void Epilogue512(float* c, int ldc, float* bias, Activation act)
    {
        Vector512<float> bias0 = bias != null ? Vector512.Load(bias) : Vector512<float>.Zero;
        Vector512<float> bias1 = bias != null ? Vector512.Load(bias + 16) : Vector512<float>.Zero;
        for (int i = 0; i < MR; i++, c += ldc)
        {
            Apply512(c, Vector512.Load(c) + bias0, act);
            Apply512(c + 16, Vector512.Load(c + 16) + bias1, act);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Apply512(float* c, Vector512<float> v, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: v = Vector512.Max(v, Vector512<float>.Zero); break;
            case Activation.Tanh: v = VMath.Tanh(v); break;
            case Activation.Sigmoid: v = VMath.Sigmoid(v); break;
        }
        v.Store(c);
    }

    /// <summary>The AVX2 micro-kernel: a 6 × 16 tile in 12 ymm accumulators.</summary>
    static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b);
            Vector256<float> b1 = Vector256.Load(b + 8);
            Vector256<float> x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 16;
        }
        long ld = ldc;
        float* c0 = c;
        Store256(c, c00, load); Store256(c + 8, c01, load);
        c += ld;
        Store256(c, c10, load); Store256(c + 8, c11, load);
        c += ld;
        Store256(c, c20, load); Store256(c + 8, c21, load);
        c += ld;
        Store256(c, c30, load); Store256(c + 8, c31, load);
        c += ld;
        Store256(c, c40, load); Store256(c + 8, c41, load);
        c += ld;
        Store256(c, c50, load); Store256(c + 8, c51, load);
        if (bias != null || act != Activation.None)
            Epilogue256(c0, ldc, bias, act);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store256(float* c, Vector256<float> v, bool load)
    {
        if (load)
            v += Vector256.Load(c);
        v.Store(c);
    }

    /// <summary>Adds the bias and applies the activation to a stored 6 × 16 tile (after the last K block only).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    static void Epilogue256(float* c, int ldc, float* bias, Activation act)
    {
        Vector256<float> bias0 = bias != null ? Vector256.Load(bias) : Vector256<float>.Zero;
        Vector256<float> bias1 = bias != null ? Vector256.Load(bias + 8) : Vector256<float>.Zero;
        for (int i = 0; i < MR; i++, c += ldc)
        {
            Apply256(c, Vector256.Load(c) + bias0, act);
            Apply256(c + 8, Vector256.Load(c + 8) + bias1, act);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Apply256(float* c, Vector256<float> v, Activation act)
    {
        switch (act)
        {
            case Activation.Relu: v = Vector256.Max(v, Vector256<float>.Zero); break;
            case Activation.Tanh: v = VMath.Tanh(v); break;
            case Activation.Sigmoid: v = VMath.Sigmoid(v); break;
        }
        v.Store(c);
    }

    /// <summary>The scalar micro-kernel: a 6 × 8 tile accumulated in a stack array.</summary>
    static void Kernel6x8(int kc, float* a, float* b, float* c, int ldc, bool load, float* bias, Activation act)
    {
        const int NR = 8;
        float* acc = stackalloc float[MR * NR];
        new Span<float>(acc, MR * NR).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int i = 0; i < MR; i++)
            {
                float x = a[i];
                float* row = acc + i * NR;
                for (int j = 0; j < NR; j++)
                    row[j] += x * b[j];
            }
            a += MR;
            b += NR;
        }
        MergeEdge(acc, NR, c, ldc, MR, NR, load, bias, act);
    }
}
