using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using ModelGen.Cpu;

namespace ModelGen.Gpu;

public static partial class GpuKernels
{
    /// <summary>
    /// C (m × n) = op(A) (m × k) · op(B) (k × n) [+ bias broadcast over rows], then <paramref name="activation"/>;
    /// or, with <paramref name="accumulate"/>, C += op(A) · op(B): the GPU twin of <see cref="Gemm.Sgemm"/>, with the
    /// same arguments, semantics and checks.
    /// </summary>
    /// <remarks>
    /// A tiled SGEMM: each group of T×T threads computes an 8T × 8T block of C, each thread an 8 × 8 sub-tile held in
    /// registers (two 4-row halves × two 4-column halves, T·4 apart, so that the fragments read from shared memory are
    /// 16-byte vectors without bank conflicts). The depth is walked in steps of T/2: the A and B slices of a step are
    /// staged k-major in shared memory (double-buffered, one barrier a step), and the next step's slices are fetched from
    /// global memory into registers while the current one is multiplied. The transposes only change how a slice is read
    /// from global memory: along its contiguous dimension, so that a warp's loads are coalesced in every combination
    /// (the combination is a specialized kernel argument: each one used is compiled once, with straight-line loads).
    /// Edges of any size are handled by zero-filling the slices and predicating the stores; the bias and activation are
    /// applied as the registers are stored. T is 16 (128 × 128 blocks) on devices with 256-thread groups when that gives
    /// at least one block per multiprocessor, else 8 (64 × 64 blocks), else 4 (ILGPU's default CPU accelerator).
    /// </remarks>
    /// <param name="device">The device whose stream runs the product.</param>
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
    /// <exception cref="ArgumentException">A dimension, stride or view length does not fit, or bias/activation is combined with accumulate.</exception>
    public static void Sgemm(GpuDevice device, bool transA, bool transB, int m, int n, int k,
        ArrayView<float> a, int lda, ArrayView<float> b, int ldb, ArrayView<float> c, int ldc,
        ArrayView<float> bias = default, Activation activation = Activation.None, bool accumulate = false)
        => SgemmTiled(device, GemmTile.Auto, transA, transB, m, n, k, a, lda, b, ldb, c, ldc, bias, activation, accumulate);

    /// <summary>
    /// <see cref="Sgemm"/> with the block size chosen by the caller (<see cref="GemmTile.Auto"/>: as <see cref="Sgemm"/>
    /// chooses); for tests and benchmarks of each block size.
    /// </summary>
    internal static void SgemmTiled(GpuDevice device, GemmTile tile, bool transA, bool transB, int m, int n, int k,
        ArrayView<float> a, int lda, ArrayView<float> b, int ldb, ArrayView<float> c, int ldc,
        ArrayView<float> bias, Activation activation, bool accumulate)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (m < 0 || n < 0 || k < 0)
            throw new ArgumentException($"Sgemm dimensions must be non-negative (m={m}, n={n}, k={k}).");
        if (accumulate && (bias.Length > 0 || activation != Activation.None))
            throw new ArgumentException("Sgemm cannot apply a bias or an activation while accumulating into C.", nameof(accumulate));
        if (activation < Activation.None || activation > Activation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(activation), activation, "Unknown activation.");
        if (m == 0 || n == 0)
            return;
        CheckGemmOperand(a.Length, lda, transA ? k : m, transA ? m : k, nameof(a), nameof(lda));
        CheckGemmOperand(b.Length, ldb, transB ? n : k, transB ? k : n, nameof(b), nameof(ldb));
        CheckGemmOperand(c.Length, ldc, m, n, nameof(c), nameof(ldc));
        if (bias.Length > 0 && bias.Length < n)
            throw new ArgumentException($"The bias has {bias.Length} values but C has {n} columns.", nameof(bias));
        if (k == 0 && accumulate)
            return;   // C += nothing

        var accelerator = device.Accelerator;
        if (tile == GemmTile.Auto)
        {
            int maxThreads = accelerator.MaxNumThreadsPerGroup;
            long blocks128 = (long)((m + 127) / 128) * ((n + 127) / 128);
            tile = maxThreads >= 256 && blocks128 >= accelerator.NumMultiprocessors ? GemmTile.Tile128
                : maxThreads >= 64 ? GemmTile.Tile64
                : GemmTile.Tile32;
        }
        int side = tile switch { GemmTile.Tile128 => 16, GemmTile.Tile64 => 8, GemmTile.Tile32 => 4, _ => throw new ArgumentOutOfRangeException(nameof(tile)) };
        if (side * side > accelerator.MaxNumThreadsPerGroup)
            throw new ArgumentException($"{device.Id} runs at most {accelerator.MaxNumThreadsPerGroup} threads per group; the {tile} GEMM needs {side * side}.", nameof(tile));

        var args = new GemmArgs
        {
            // Placeholders for views the kernel never reads (an empty operand when k = 0, an absent bias).
            A = k == 0 ? c : a, B = k == 0 ? c : b, C = c, Bias = bias.Length > 0 ? bias : c,
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc,
            HasBias = bias.Length > 0 ? 1 : 0, Accumulate = accumulate ? 1 : 0, Activation = (int)activation,
        };
        int block = 8 * side;
        // Row blocks along x (up to 2^31 - 1 groups on CUDA), column blocks along y (up to 65535).
        int rowBlocks = (m + block - 1) / block, colBlocks = (n + block - 1) / block;
        if (rowBlocks > accelerator.MaxGridSize.X || colBlocks > accelerator.MaxGridSize.Y)
            throw new ArgumentException($"Sgemm of {m} x {n} needs a grid of {rowBlocks} x {colBlocks} groups; {device.Id} allows {accelerator.MaxGridSize.X} x {accelerator.MaxGridSize.Y}.");
        var config = new KernelConfig(new Index3D(rowBlocks, colBlocks, 1), new Index3D(side * side, 1, 1));
        var kernels = device.Kernels(acc => new GemmKernels(acc));
        var launch = tile switch { GemmTile.Tile128 => kernels.Tile128, GemmTile.Tile64 => kernels.Tile64, _ => kernels.Tile32 };
        // The layout (which operands have a contiguous depth) is compiled into the kernel: one variant per combination used.
        launch(device.Stream, config, args, new SpecializedValue<int>((transA ? 0 : 1) | (transB ? 2 : 0)));
    }

    static void CheckGemmOperand(long length, int ld, int rows, int cols, string name, string ldName)
    {
        if (ld < cols || ld < 1)
            throw new ArgumentException($"Stride {ldName}={ld} is smaller than the {cols} columns stored per row of {name}.", ldName);
        if (rows == 0 || cols == 0)
            return;
        long needed = (long)(rows - 1) * ld + cols;
        if (length < needed)
            throw new ArgumentException($"View {name} has {length} elements but a {rows} x {cols} matrix with stride {ld} needs {needed}.", name);
    }

    /// <summary>The SGEMM kernels, one per block size, loaded once per device.</summary>
    sealed class GemmKernels
    {
        public readonly Action<AcceleratorStream, KernelConfig, GemmArgs, SpecializedValue<int>> Tile128, Tile64, Tile32;

        public GemmKernels(Accelerator accelerator)
        {
            Tile128 = accelerator.LoadKernel<GemmArgs, SpecializedValue<int>>(GemmKernel.Run<GemmSide16>);
            Tile64 = accelerator.LoadKernel<GemmArgs, SpecializedValue<int>>(GemmKernel.Run<GemmSide8>);
            Tile32 = accelerator.LoadKernel<GemmArgs, SpecializedValue<int>>(GemmKernel.Run<GemmSide4>);
        }
    }
}

/// <summary>The block size of the GPU SGEMM (<see cref="GpuKernels.SgemmTiled"/>).</summary>
internal enum GemmTile
{
    /// <summary>Chosen from the device and the shape.</summary>
    Auto,
    /// <summary>128 × 128 blocks of C, 256 threads a group, depth steps of 8.</summary>
    Tile128,
    /// <summary>64 × 64 blocks of C, 64 threads a group, depth steps of 4.</summary>
    Tile64,
    /// <summary>32 × 32 blocks of C, 16 threads a group, depth steps of 2 (ILGPU's default CPU accelerator).</summary>
    Tile32,
}

/// <summary>The arguments of the SGEMM kernel (flags as ints).</summary>
internal struct GemmArgs
{
    public ArrayView<float> A, B, C, Bias;
    public int M, N, K, Lda, Ldb, Ldc;
    public int HasBias, Accumulate, Activation;
}

/// <summary>The side T of a group's T × T threads; the block of C is 8T × 8T, the depth step T/2.</summary>
internal interface IGemmSide
{
    /// <summary>T: 4, 8 or 16.</summary>
    int Side { get; }
}

internal readonly struct GemmSide16 : IGemmSide
{
    public int Side => 16;
}

internal readonly struct GemmSide8 : IGemmSide
{
    public int Side => 8;
}

internal readonly struct GemmSide4 : IGemmSide
{
    public int Side => 4;
}

/// <summary>Four floats: a 16-byte shared-memory vector and a 4-wide register group.</summary>
internal struct GemmF4
{
    public float X, Y, Z, W;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GemmF4(float x, float y, float z, float w)
    {
        X = x;
        Y = y;
        Z = z;
        W = w;
    }

    /// <summary>c + a · b, lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static GemmF4 Fma(GemmF4 c, float a, GemmF4 b) => new(c.X + a * b.X, c.Y + a * b.Y, c.Z + a * b.Z, c.W + a * b.W);
}

/// <summary>
/// The 8 × 8 accumulators of a thread: row r (0-3: the upper half, 4-7: the lower half) × the low (L) and high (H)
/// groups of 4 columns. Named fields, not an array, so that they stay in registers.
/// </summary>
internal struct GemmAcc
{
    public GemmF4 R0L, R0H, R1L, R1H, R2L, R2H, R3L, R3H, R4L, R4H, R5L, R5H, R6L, R6H, R7L, R7H;

    /// <summary>One depth step: the outer product of the 8 values of op(A) (a0: rows 0-3, a1: rows 4-7) and the 8 of op(B).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Step(GemmF4 a0, GemmF4 a1, GemmF4 b0, GemmF4 b1)
    {
        R0L = GemmF4.Fma(R0L, a0.X, b0); R0H = GemmF4.Fma(R0H, a0.X, b1);
        R1L = GemmF4.Fma(R1L, a0.Y, b0); R1H = GemmF4.Fma(R1H, a0.Y, b1);
        R2L = GemmF4.Fma(R2L, a0.Z, b0); R2H = GemmF4.Fma(R2H, a0.Z, b1);
        R3L = GemmF4.Fma(R3L, a0.W, b0); R3H = GemmF4.Fma(R3H, a0.W, b1);
        R4L = GemmF4.Fma(R4L, a1.X, b0); R4H = GemmF4.Fma(R4H, a1.X, b1);
        R5L = GemmF4.Fma(R5L, a1.Y, b0); R5H = GemmF4.Fma(R5H, a1.Y, b1);
        R6L = GemmF4.Fma(R6L, a1.Z, b0); R6H = GemmF4.Fma(R6H, a1.Z, b1);
        R7L = GemmF4.Fma(R7L, a1.W, b0); R7H = GemmF4.Fma(R7H, a1.W, b1);
    }
}

/// <summary>The SGEMM kernel (see <see cref="GpuKernels.Sgemm"/>).</summary>
internal static class GemmKernel
{
    /// <summary>Shared memory of a group: 2 buffers × (A, B) × 8 depth rows × (128 + 4) floats, in 16-byte vectors (the largest block size).</summary>
    const int SharedVectors = 2 * 2 * 8 * 33;

    /// <summary>
    /// One group: the 8T × 8T block of C at row block <c>Grid.IdxX</c>, column block <c>Grid.IdxY</c>.
    /// Shared memory holds, per buffer, the A slice then the B slice, each BK rows (depth) of 8T + 4 floats (the
    /// padding keeps the scalar stores of a k-contiguous slice free of bank conflicts; rows stay 16-byte aligned).
    /// </summary>
    /// <param name="g">The operands and the epilogue.</param>
    /// <param name="layout">Bit 0: the depth of A is contiguous (A untransposed); bit 1: that of B (B transposed). A
    /// compile-time constant of each variant, so that the slice loads are straight code.</param>
    public static void Run<TSide>(GemmArgs g, SpecializedValue<int> layout) where TSide : struct, IGemmSide
    {
        int side = default(TSide).Side;
        int blockSize = 8 * side;       // BM = BN
        int depth = side / 2;           // BK: 4 values of each operand per thread and step
        int rowVectors = 2 * side + 1;  // a padded shared row (8T + 4 floats) in vectors
        int sliceVectors = depth * rowVectors;

        var shared = SharedMemory.Allocate<GemmF4>(SharedVectors);
        var sharedFloats = shared.Cast<float>();

        int t = Group.IdxX;
        int tx = t % side, ty = t / side;
        int row0 = Grid.IdxX * blockSize, col0 = Grid.IdxY * blockSize;
        int k = g.K;
        int steps = (k + depth - 1) / depth;

        // Where this thread's 4 values of each slice come from and go to.
        int lay = layout.Value;
        var la = new GemmSliceLoader<TSide>((lay & 1) != 0, g.Lda, row0, g.M, t);
        var lb = new GemmSliceLoader<TSide>((lay & 2) != 0, g.Ldb, col0, g.N, t);

        var acc = default(GemmAcc);
        if (steps > 0)
        {
            GemmF4 pa = la.Load(g.A, 0, k);
            GemmF4 pb = lb.Load(g.B, 0, k);
            la.Store(sharedFloats, 0, pa);
            lb.Store(sharedFloats, 4 * sliceVectors, pb);
            Group.Barrier();
            for (int s = 0; s < steps; s++)
            {
                int baseA = (s & 1) * 2 * sliceVectors;
                int baseB = baseA + sliceVectors;
                // The next step's values (zeros past the end: the loads stay in bounds) are fetched before the
                // multiplications and used after them, so that their latency hides behind the arithmetic. No branch
                // around them: the loads, the products and the stores are one block for the scheduler.
                pa = la.Load(g.A, s + 1, k);
                pb = lb.Load(g.B, s + 1, k);
                // This thread's columns of the two slices: constant offsets from here on (folded into the loads).
                var sa = shared.SubView(baseA + ty, sliceVectors - ty);
                var sb = shared.SubView(baseB + tx, sliceVectors - tx);
                // The depth rows of the slice, unrolled by hand (ILGPU leaves this loop rolled): depth is a constant.
                Row(ref acc, sa, sb, 0 * rowVectors, side);
                Row(ref acc, sa, sb, 1 * rowVectors, side);
                if (depth > 2)
                {
                    Row(ref acc, sa, sb, 2 * rowVectors, side);
                    Row(ref acc, sa, sb, 3 * rowVectors, side);
                }
                if (depth > 4)
                {
                    Row(ref acc, sa, sb, 4 * rowVectors, side);
                    Row(ref acc, sa, sb, 5 * rowVectors, side);
                    Row(ref acc, sa, sb, 6 * rowVectors, side);
                    Row(ref acc, sa, sb, 7 * rowVectors, side);
                }
                // Into the other buffer, which nobody reads during this step (after the last step: never read).
                int next = ((s + 1) & 1) * 2 * sliceVectors;
                la.Store(sharedFloats, 4 * next, pa);
                lb.Store(sharedFloats, 4 * (next + sliceVectors), pb);
                Group.Barrier();
            }
        }

        // The epilogue: rows row0 + 4ty + r and row0 + 4T + 4ty + r; columns col0 + 4tx + j and col0 + 4T + 4tx + j.
        int cl = col0 + 4 * tx, ch = cl + 4 * side;
        GemmF4 biasL = default, biasH = default;
        if (g.HasBias != 0)
        {
            biasL = LoadRow(g.Bias, 0, cl, g.N);
            biasH = LoadRow(g.Bias, 0, ch, g.N);
        }
        int rl = row0 + 4 * ty, rh = rl + 4 * side;
        StoreRow(g, rl + 0, cl, acc.R0L, biasL); StoreRow(g, rl + 0, ch, acc.R0H, biasH);
        StoreRow(g, rl + 1, cl, acc.R1L, biasL); StoreRow(g, rl + 1, ch, acc.R1H, biasH);
        StoreRow(g, rl + 2, cl, acc.R2L, biasL); StoreRow(g, rl + 2, ch, acc.R2H, biasH);
        StoreRow(g, rl + 3, cl, acc.R3L, biasL); StoreRow(g, rl + 3, ch, acc.R3H, biasH);
        StoreRow(g, rh + 0, cl, acc.R4L, biasL); StoreRow(g, rh + 0, ch, acc.R4H, biasH);
        StoreRow(g, rh + 1, cl, acc.R5L, biasL); StoreRow(g, rh + 1, ch, acc.R5H, biasH);
        StoreRow(g, rh + 2, cl, acc.R6L, biasL); StoreRow(g, rh + 2, ch, acc.R6H, biasH);
        StoreRow(g, rh + 3, cl, acc.R7L, biasL); StoreRow(g, rh + 3, ch, acc.R7H, biasH);
    }

    /// <summary>One depth row of the staged slices (<paramref name="row"/>: its offset in vectors): this thread's 8 values of op(A) and 8 of op(B), multiplied into the accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Row(ref GemmAcc acc, ArrayView<GemmF4> sa, ArrayView<GemmF4> sb, int row, int side) =>
        acc.Step(sa[row], sa[row + side], sb[row], sb[row + side]);

    /// <summary>The 4 values at columns col .. col + 3 of a row starting at <paramref name="offset"/>; 0 past <paramref name="n"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static GemmF4 LoadRow(ArrayView<float> v, long offset, int col, int n) => new(
        col < n ? v[offset + col] : 0f,
        col + 1 < n ? v[offset + col + 1] : 0f,
        col + 2 < n ? v[offset + col + 2] : 0f,
        col + 3 < n ? v[offset + col + 3] : 0f);

    /// <summary>Stores 4 values of C's row <paramref name="row"/> from column <paramref name="col"/>, inside C only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreRow(in GemmArgs g, int row, int col, GemmF4 v, GemmF4 bias)
    {
        if (row >= g.M)
            return;
        long offset = (long)row * g.Ldc + col;
        if (col < g.N) g.C[offset] = Finish(g, v.X, bias.X, offset);
        if (col + 1 < g.N) g.C[offset + 1] = Finish(g, v.Y, bias.Y, offset + 1);
        if (col + 2 < g.N) g.C[offset + 2] = Finish(g, v.Z, bias.Z, offset + 2);
        if (col + 3 < g.N) g.C[offset + 3] = Finish(g, v.W, bias.W, offset + 3);
    }

    /// <summary>The stored value: sum + C (accumulating), or the activation of sum + bias.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static float Finish(in GemmArgs g, float sum, float bias, long offset)
    {
        if (g.Accumulate != 0)
            return g.C[offset] + sum;
        return Activate(sum + bias, g.Activation);
    }

    /// <summary><c>Gemm.ApplyScalar</c>: the activation as the CPU runtime computes it (<see cref="VMath"/>'s scalar functions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Activate(float v, int activation)
    {
        if (activation == (int)Activation.Relu)
            return v > 0f ? v : 0f;
        if (activation == (int)Activation.Tanh)
            return Tanh(v);
        if (activation == (int)Activation.Sigmoid)
            return Sigmoid(v);
        return v;
    }

    /// <summary>The CPU's <see cref="VMath.Tanh(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    internal static float Tanh(float x) => VMath.Tanh(x);

    /// <summary>The CPU's <see cref="VMath.Sigmoid(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    internal static float Sigmoid(float x) => VMath.Sigmoid(x);
}

/// <summary>
/// How one thread moves its 4 values of an operand slice (BK depth rows × B outer indices: rows of op(A) or columns of
/// op(B)) from global memory to shared memory. Element e = t + T·r (r = 0..3) of the slice is taken along the
/// operand's contiguous dimension, so that consecutive threads read consecutive addresses: depth d = e mod BK, outer
/// o = e / BK when the depth is contiguous (A untransposed, B transposed), else o = e mod B, d = e / B. It lands at
/// shared row d, column o. For every block size the (o, d) of element r differs from that of element 0 by constants
/// (T is a multiple of BK, and T a multiple of B or B = 2T), so the loader keeps only element 0's position.
/// </summary>
internal struct GemmSliceLoader<TSide> where TSide : struct, IGemmSide
{
    readonly long _global;     // global offset of element 0 at step 0 (past the operand for an outer index outside it)
    readonly int _outer;       // element 0's outer index in the operand
    readonly int _depth;       // element 0's depth in the slice
    readonly int _shared;      // element 0's offset in the shared slice, in floats
    readonly int _ld, _extent;
    readonly bool _kContiguous;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public GemmSliceLoader(bool kContiguous, int ld, int outer0, int outerExtent, int t)
    {
        int side = default(TSide).Side;
        int depth = side / 2, block = 8 * side, rowFloats = 8 * side + 4;
        int o = kContiguous ? t / depth : t % block;
        int d = kContiguous ? t % depth : t / block;
        _kContiguous = kContiguous;
        _ld = ld;
        _extent = outerExtent;
        _outer = outer0 + o;
        _depth = d;
        _shared = d * rowFloats + o;
        _global = kContiguous ? (long)_outer * ld + d : (long)d * ld + _outer;
    }

    /// <summary>Element r's offsets from element 0: outer and depth (constants once inlined).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    readonly void Delta(int r, out int dOuter, out int dDepth)
    {
        int side = default(TSide).Side;
        int depth = side / 2, block = 8 * side, e = side * side * r;
        dOuter = _kContiguous ? e / depth : e % block;
        dDepth = _kContiguous ? e % depth : e / block;
    }

    /// <summary>The thread's 4 values of step <paramref name="step"/> (zeros outside the operand).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly GemmF4 Load(ArrayView<float> x, int step, int k)
    {
        int p0 = step * (default(TSide).Side / 2);
        long offset = _global + (_kContiguous ? p0 : (long)p0 * _ld);
        return new GemmF4(Value(x, 0, p0, k, offset), Value(x, 1, p0, k, offset), Value(x, 2, p0, k, offset), Value(x, 3, p0, k, offset));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    readonly float Value(ArrayView<float> x, int r, int p0, int k, long offset)
    {
        Delta(r, out int dOuter, out int dDepth);
        bool ok = _outer + dOuter < _extent && p0 + _depth + dDepth < k;
        long index = offset + (_kContiguous ? (long)dOuter * _ld + dDepth : (long)dDepth * _ld + dOuter);
        // Index 0 for a value outside the operand: the load stays in bounds whether or not it is predicated.
        float v = x[ok ? index : 0];
        return ok ? v : 0f;
    }

    /// <summary>Stores the 4 values into the slice that starts at float <paramref name="sliceBase"/> of shared memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Store(ArrayView<float> shared, int sliceBase, GemmF4 v)
    {
        int rowFloats = 8 * default(TSide).Side + 4;
        int b = sliceBase + _shared;
        shared[b + Offset(0, rowFloats)] = v.X;
        shared[b + Offset(1, rowFloats)] = v.Y;
        shared[b + Offset(2, rowFloats)] = v.Z;
        shared[b + Offset(3, rowFloats)] = v.W;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    readonly int Offset(int r, int rowFloats)
    {
        Delta(r, out int dOuter, out int dDepth);
        return dDepth * rowFloats + dOuter;
    }
}
