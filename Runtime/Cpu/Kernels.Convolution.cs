using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace ModelGen.Cpu;

// Convolution, pooling and layout kernels over NCHW images. Convolution is im2col + GEMM, one image at a time, the
// batch split into up to Conv2dSlots chunks that run on the worker pool: each chunk unrolls its images' patches into
// its own (C·k·k) × (Ho·Wo) slot of the workspace (from the activation arena, so nothing is allocated per step), and
// each channel group is one single-threaded GEMM:
//   forward          y[n, g]   (O/G × HoWo)      = w[g] (O/G × Ck²/G) · col[g] (Ck²/G × HoWo)
//   backward data    dcol[g]   (Ck²/G × HoWo)    = w[g]ᵀ · dy[n, g], then col2im adds it into dx[n]
//   backward weight  dw[g]     (O/G × Ck²/G)    += dy[n, g] · col[g]ᵀ  (im2col recomputed per image)
// A 1×1 convolution with stride 1 and no padding uses the image itself as its column matrix.
// Stride-1, single-group convolutions with C·k·k ≥ 32 (for the data gradient O·k·k ≥ 32) on AVX2/AVX-512 never build
// the column matrix: they run as implicit GEMMs over a pitched copy of each image (see the region "implicit GEMM" and
// Gemm.Convolution.cs), the data gradient as a convolution of dy with the flipped weight.
public static partial class Kernels
{
    /// <summary>
    /// Unrolls one image (C × H × W) into its column matrix col (C·k·k rows, Ho·Wo columns): row (c, u, v), column
    /// (i, j) holds x[c, i·s − p + u·d, j·s − p + v·d], or 0 where that tap falls in the padding.
    /// </summary>
    /// <param name="x">One image, C·H·W values.</param>
    /// <param name="col">Receives C·k·k·Ho·Wo values.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">k.</param>
    /// <param name="stride">s.</param>
    /// <param name="padding">p.</param>
    /// <param name="dilation">d.</param>
    public static void Im2Col(ReadOnlySpan<float> x, Span<float> col, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        var (ho, wo) = CheckColumns(nameof(Im2Col), channels, height, width, kernel, stride, padding, dilation);
        CheckLength(x.Length, Elements(channels, height, width), nameof(x));
        CheckLength(col.Length, Elements(Elements(channels, kernel, kernel), ho, wo), nameof(col));
        int row = 0;
        for (int c = 0; c < channels; c++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++, row++)
        {
            Span<float> dst = col.Slice(row * ho * wo, ho * wo);
            if (stride == 1 && wo == width)
            {
                SameRowIm2Col(x.Slice(c * height * width, height * width), dst, height, width, u * dilation - padding, v * dilation - padding);
                continue;
            }
            var (j0, j1) = ValidRange(wo, width, stride, v * dilation - padding);
            for (int i = 0; i < ho; i++)
            {
                Span<float> line = dst.Slice(i * wo, wo);
                int r = i * stride - padding + u * dilation;
                if (r < 0 || r >= height || j0 >= j1)
                {
                    line.Clear();
                    continue;
                }
                line.Slice(0, j0).Clear();
                line.Slice(j1).Clear();
                ReadOnlySpan<float> src = x.Slice((c * height + r) * width, width);
                int q0 = j0 * stride + v * dilation - padding;
                if (stride == 1)
                    src.Slice(q0, j1 - j0).CopyTo(line.Slice(j0));
                else
                    for (int j = j0, q = q0; j < j1; j++, q += stride) line[j] = src[q];
            }
        }
    }

    /// <summary>The adjoint of <see cref="Im2Col"/>: adds every column-matrix entry into the image tap it came from (dx is not cleared).</summary>
    /// <param name="col">C·k·k·Ho·Wo values.</param>
    /// <param name="dx">One image, C·H·W values, accumulated into.</param>
    /// <param name="channels">C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">k.</param>
    /// <param name="stride">s.</param>
    /// <param name="padding">p.</param>
    /// <param name="dilation">d.</param>
    public static void Col2Im(ReadOnlySpan<float> col, Span<float> dx, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        var (ho, wo) = CheckColumns(nameof(Col2Im), channels, height, width, kernel, stride, padding, dilation);
        CheckLength(dx.Length, Elements(channels, height, width), nameof(dx));
        CheckLength(col.Length, Elements(Elements(channels, kernel, kernel), ho, wo), nameof(col));
        int row = 0;
        for (int c = 0; c < channels; c++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++, row++)
        {
            ReadOnlySpan<float> src = col.Slice(row * ho * wo, ho * wo);
            var (j0, j1) = ValidRange(wo, width, stride, v * dilation - padding);
            if (j0 >= j1) continue;
            for (int i = 0; i < ho; i++)
            {
                int r = i * stride - padding + u * dilation;
                if (r < 0 || r >= height) continue;
                Span<float> dst = dx.Slice((c * height + r) * width, width);
                ReadOnlySpan<float> line = src.Slice(i * wo, wo);
                int q0 = j0 * stride + v * dilation - padding;
                if (stride == 1)
                    AddInPlace(dst.Slice(q0, j1 - j0), line.Slice(j0, j1 - j0));
                else
                    for (int j = j0, q = q0; j < j1; j++, q += stride) dst[q] += line[j];
            }
        }
    }

    /// <summary>
    /// One row (c, u, v) of a stride-1 column matrix whose output planes are as wide as the input (and so as high: "same"
    /// padding): dst[i, j] = plane[i + dr, j + dc], a shift of the flattened plane by dr·W + dc, copied in one piece;
    /// then the taps that fell off the left or right edge (and wrapped into the neighbouring row) are cleared.
    /// </summary>
    static void SameRowIm2Col(ReadOnlySpan<float> plane, Span<float> dst, int height, int width, int dr, int dc)
    {
        int i0 = Math.Max(0, -dr), i1 = Math.Min(height, height - dr);
        int j0 = Math.Max(0, -dc), j1 = Math.Min(width, width - dc);
        if (i0 >= i1 || j0 >= j1)
        {
            dst.Clear();
            return;
        }
        int start = i0 * width + j0, end = (i1 - 1) * width + j1, shift = dr * width + dc;
        dst.Slice(0, start).Clear();
        plane.Slice(start + shift, end - start).CopyTo(dst.Slice(start, end - start));
        dst.Slice(end).Clear();
        if (j0 > 0 || j1 < width)
            ClearEdges(dst, width, i0, i1, j0, j1);
    }

    /// <summary>Clears columns [0, j0) and [j1, width) of rows [i0, i1) of a row-major plane (a few entries per row).</summary>
    static void ClearEdges(Span<float> plane, int width, int i0, int i1, int j0, int j1)
    {
        ref float p = ref MemoryMarshal.GetReference(plane);
        for (int i = i0; i < i1; i++)
        {
            ref float line = ref Unsafe.Add(ref p, i * width);
            for (int j = 0; j < j0; j++) Unsafe.Add(ref line, j) = 0f;
            for (int j = j1; j < width; j++) Unsafe.Add(ref line, j) = 0f;
        }
    }

    /// <summary>
    /// <see cref="Col2Im"/> for the convolution kernels, which own the column matrix: in the stride-1 "same" case (output
    /// planes as wide as the input) the entries that fall off the left or right edge are cleared in col and each row
    /// (c, u, v) is added to the shifted, flattened plane in one piece.
    /// </summary>
    static void Col2ImOwned(Span<float> col, Span<float> dx, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, dilation), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, dilation);
        if (stride != 1 || wo != width)
        {
            Col2Im(col, dx, channels, height, width, kernel, stride, padding, dilation);
            return;
        }
        int row = 0;
        for (int c = 0; c < channels; c++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++, row++)
        {
            Span<float> src = col.Slice(row * ho * wo, ho * wo);
            Span<float> plane = dx.Slice(c * height * width, height * width);
            int dr = u * dilation - padding, dc = v * dilation - padding;
            int i0 = Math.Max(0, -dr), i1 = Math.Min(height, height - dr);
            int j0 = Math.Max(0, -dc), j1 = Math.Min(width, width - dc);
            if (i0 >= i1 || j0 >= j1) continue;
            if (j0 > 0 || j1 < width)
                ClearEdges(src, width, i0, i1, j0, j1);
            int start = i0 * width + j0, end = (i1 - 1) * width + j1, shift = dr * width + dc;
            AddInPlace(plane.Slice(start + shift, end - start), src.Slice(start, end - start));
        }
    }

    /// <summary>The output columns j in [j0, j1) whose tap j·stride + offset lies inside [0, width).</summary>
    static (int J0, int J1) ValidRange(int outWidth, int width, int stride, int offset)
    {
        int j0 = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
        int j1 = width - offset <= 0 ? 0 : Math.Min(outWidth, (width - offset - 1) / stride + 1);
        return (Math.Min(j0, outWidth), j1);
    }

    static bool IsPointwise(in Conv2dGeometry g) => g.Kernel == 1 && g.Stride == 1 && g.Padding == 0;

    /// <summary>
    /// The most chunks of images a convolution kernel splits a batch into. Each chunk has its own slot of workspace (a
    /// column matrix and, for the weight gradient, a partial sum), so chunks run on the <see cref="WorkerPool"/> in
    /// any order; their number depends only on the batch and the workspace, never on the thread count, so results are
    /// the same on 1 thread and on many.
    /// </summary>
    public const int Conv2dSlots = 4;

    /// <summary>One image's column matrix, C·k·k·Ho·Wo (0 for a pointwise convolution, which uses the image itself).</summary>
    static int ColumnsOf(in Conv2dGeometry g) => IsPointwise(g) ? 0 : g.Channels * g.Kernel * g.Kernel * g.OutHeight * g.OutWidth;

    /// <summary>The weight's length, O·C/G·k·k.</summary>
    static int WeightsOf(in Conv2dGeometry g) => g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;

    /// <summary>
    /// The floats of workspace the convolution kernels run fastest with: <see cref="Conv2dSlots"/> slots of one image's
    /// column matrix (C·k·k·Ho·Wo) and one weight gradient (O·C/G·k·k). The kernels work with less, down to one image's
    /// column matrix, splitting the batch into fewer chunks.
    /// </summary>
    /// <param name="g">The convolution.</param>
    /// <returns>The workspace length.</returns>
    public static int Conv2dWorkspace(Conv2dGeometry g) =>
        Conv2dSlots * (g.Channels * g.Kernel * g.Kernel * g.OutHeight * g.OutWidth + WeightsOf(g));

    /// <summary>Chunks of images for the forward and data-gradient kernels: as many as the workspace has column matrices for.</summary>
    static int DataChunks(in Conv2dGeometry g, int workspace)
    {
        int cols = ColumnsOf(g);
        int chunks = Math.Min(Conv2dSlots, g.Batch);
        return cols == 0 ? chunks : Math.Min(chunks, workspace / cols);
    }

    /// <summary>Chunks of images for the weight gradient: c column matrices and c − 1 partial sums fit in the workspace.</summary>
    static int WeightChunks(in Conv2dGeometry g, int workspace)
    {
        int cols = ColumnsOf(g), weights = WeightsOf(g);
        int chunks = Math.Min(Conv2dSlots, g.Batch);
        while (chunks > 1 && (long)chunks * cols + (long)(chunks - 1) * weights > workspace) chunks--;
        return chunks;
    }

    /// <summary>The pointers and geometry one chunk of a convolution kernel needs (on the caller's stack while the pool runs).</summary>
    unsafe struct ConvArgs
    {
        public float* X, W, Bias, Y, Workspace;
        public Conv2dGeometry G;
        public int Chunks;
        public bool Transposed;
        public Activation Activation;
    }

    /// <summary>Runs body for every chunk, on the pool when there are several threads, else in order on this thread.</summary>
    static unsafe void RunChunks(delegate*<nint, int, void> body, ConvArgs* args)
    {
        if (args->Chunks > 1 && CpuFeatures.Threads > 1 && WorkerPool.TryRun(body, (nint)args, args->Chunks, CpuFeatures.Threads))
            return;
        for (int c = 0; c < args->Chunks; c++) body((nint)args, c);
    }

    // ---------------------------------------------------------------- implicit GEMM (stride 1, one group)

    /// <summary>
    /// The pitched, zero-bordered layout in which the implicit-GEMM kernels (see Gemm.Convolution.cs) read a
    /// convolution's input: inC planes of <see cref="Plane"/> floats, pixel (r, q) of a plane at Origin + r·Pitch + q,
    /// rows Pitch = W + pad apart (the pad zeros after a row are its right and the next row's left border), so that
    /// output position t = i·Pitch + j reads tap (u, v) at t + u·Pitch + v. Positions with j ≥ OutW are junk.
    /// </summary>
    readonly struct Pitched
    {
        public readonly int InC, InH, InW, K, OutC, OutH, OutW, Pitch, Plane, Origin, Positions, Nr, Slivers, Ldc;

        public Pitched(int inC, int inH, int inW, int k, int pad, int outC, SimdLevel level)
        {
            InC = inC; InH = inH; InW = inW; K = k; OutC = outC;
            OutH = inH + 2 * pad - k + 1;
            OutW = inW + 2 * pad - k + 1;
            Pitch = inW + pad;
            Positions = (OutH * Pitch + 5) / 6 * 6;
            Origin = pad * Pitch + pad;
            int plane = Math.Max(Positions + (k - 1) * (Pitch + 1), Origin + (inH - 1) * Pitch + inW);
            Plane = (plane + 15) & ~15;
            Nr = Gemm.ConvNr(level);
            Slivers = (outC + Nr - 1) / Nr;
            Ldc = Slivers * Nr;
        }

        /// <summary>The depth of the forward product, taps × input channels.</summary>
        public int Depth => K * K * InC;

        /// <summary>Floats of the packed weights.</summary>
        public long PackedWeights => (long)Depth * Ldc;

        /// <summary>Floats of the pitched image.</summary>
        public long Image => (long)InC * Plane;

        /// <summary>Copies one image (InC × InH × InW) into its pitched slot, whose borders the caller cleared.</summary>
        public unsafe void CopyIn(float* image, float* xpad)
        {
            for (int c = 0; c < InC; c++)
            for (int r = 0; r < InH; r++)
                Buffer.MemoryCopy(image + ((long)c * InH + r) * InW, xpad + (long)c * Plane + Origin + r * Pitch, InW * 4L, InW * 4L);
        }
    }

    /// <summary>
    /// The SIMD level the implicit-GEMM kernels run at for g, or <see cref="SimdLevel.Scalar"/> where they do not
    /// apply (scalar code, groups, strides, dilation, padding ≥ k, or too shallow a product: C·k·k &lt; 32, where the
    /// micro-kernel's 12 accumulators would be stored after a few steps). Depends only on g and the SIMD level.
    /// </summary>
    static SimdLevel ImplicitLevel(in Conv2dGeometry g, int depthChannels)
    {
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Scalar || !Avx.IsSupported) return SimdLevel.Scalar;
        if (g.Groups != 1 || g.Stride != 1 || g.Dilation != 1 || g.Padding > g.Kernel - 1 || (long)depthChannels * g.Kernel * g.Kernel < 32)
            return SimdLevel.Scalar;
        // The pitched images (inputs, or dy for the data gradient, bordered by less than k on each side) are counted in int.
        if (PitchedBound(g.Channels, g.Height, g.Width, g.Kernel) > int.MaxValue / 2 || PitchedBound(g.OutChannels, g.OutHeight, g.OutWidth, g.Kernel) > int.MaxValue / 2)
            return SimdLevel.Scalar;
        return level;
    }

    /// <summary>An upper bound of <see cref="Pitched.Image"/> for channels of h × w bordered by less than k on every side.</summary>
    static long PitchedBound(int channels, int height, int width, int k) => Elements(channels, height + 2L * k + 1, width + 2L * k + 16);

    /// <summary>Chunks of images that fit a workspace of <paramref name="available"/> floats at <paramref name="slot"/> floats each (0: none).</summary>
    static int ImplicitChunks(int batch, long available, long slot) =>
        available < slot ? 0 : (int)Math.Min(Math.Min(Conv2dSlots, Math.Max(batch, 1)), available / slot);

    unsafe struct ImplicitArgs
    {
        public float* X, Y, Bias, Packed, Workspace;
        public Pitched P;
        public int Batch, Chunks;
        public long Slot;
        public SimdLevel Level;
        public Activation Activation;
    }

    static unsafe void RunImplicit(delegate*<nint, int, void> body, ImplicitArgs* args)
    {
        if (args->Chunks > 1 && CpuFeatures.Threads > 1 && WorkerPool.TryRun(body, (nint)args, args->Chunks, CpuFeatures.Threads))
            return;
        for (int c = 0; c < args->Chunks; c++) body((nint)args, c);
    }

    /// <summary>
    /// The implicit forward product (the convolution, or the data gradient as a convolution of dy with the flipped
    /// weight): the weights packed once per call into the workspace, then chunks of images, each with its own slot
    /// (pitched image and (positions × channels) product). False when the workspace cannot hold the packed weights
    /// and one slot. Against im2col + GEMM per image on conv2 of the samples' CNN (64 images of 32 → 64 channels,
    /// 14 × 14, 2 threads, same process, median of 15 windows each): forward + ReLU 2.98 → 2.35 ms, data gradient
    /// (GEMM + col2im before) 3.50 → 2.33 ms. The junk columns of the pitched rows cost 7 % of the multiply-adds
    /// (210 positions for 196); the micro-kernel then runs at about 200 GFLOP/s of the 226 FMA peak.
    /// </summary>
    static unsafe bool TryImplicitForward(float* x, float* w, float* bias, float* y, float* workspace, long workspaceLength, in Pitched p,
        int batch, bool flipped, SimdLevel level, Activation activation)
    {
        long slot = p.Image + (long)p.Positions * p.Ldc;
        int chunks = ImplicitChunks(batch, workspaceLength - p.PackedWeights, slot);
        if (chunks == 0) return false;
        if (batch == 0) return true;
        Gemm.PackConvWeights(w, p.InC, p.OutC, p.K, flipped, p.Nr, workspace);
        var args = new ImplicitArgs
        {
            X = x, Y = y, Bias = bias, Packed = workspace, Workspace = workspace + p.PackedWeights, P = p, Batch = batch, Chunks = chunks,
            Slot = slot, Level = level, Activation = activation,
        };
        RunImplicit(&ImplicitForwardChunk, &args);
        return true;
    }

    static unsafe void ImplicitForwardChunk(nint context, int chunk)
    {
        ref readonly ImplicitArgs a = ref *(ImplicitArgs*)context;
        Pitched p = a.P;
        float* xpad = a.Workspace + chunk * a.Slot, scratch = xpad + p.Image;
        new Span<float>(xpad, (int)p.Image).Clear();
        int taps = p.K * p.K;
        // The taps' offsets: on the stack up to 16 × 16 taps, pooled beyond (a 700 × 700 kernel's would overflow the stack).
        var offsets = new Scratch<int>(stackalloc int[Scratch.StackInts], taps);
        fixed (int* tapOff = offsets.Span)
        {
            for (int u = 0; u < p.K; u++)
            for (int v = 0; v < p.K; v++) tapOff[u * p.K + v] = u * p.Pitch + v;
            long imageIn = (long)p.InC * p.InH * p.InW, imageOut = (long)p.OutC * p.OutH * p.OutW;
            for (int n = a.Batch * chunk / a.Chunks, end = a.Batch * (chunk + 1) / a.Chunks; n < end; n++)
            {
                p.CopyIn(a.X + n * imageIn, xpad);
                Gemm.ConvForwardImage(a.Level, xpad, p.Plane, p.InC, tapOff, taps, a.Packed, p.Slivers, p.Positions, scratch, p.Ldc);
                Gemm.ConvScatterOut(scratch, p.Ldc, p.Pitch, p.OutH, p.OutW, p.OutC, a.Y + n * imageOut, a.Bias, a.Activation);
            }
        }
        offsets.Dispose();
    }

    /// <summary>
    /// The implicit weight gradient: each chunk of images sums dWᵀ ((c, u, v) × O) into its own partial, the partials
    /// are added in chunk order and transposed into dw. False when the workspace cannot hold one chunk. The depth runs
    /// over the valid positions only (row by row). conv2 of the samples' CNN: 2.40 → 2.29 ms (im2col + GEMM before).
    /// </summary>
    static unsafe bool TryImplicitWeight(float* x, float* dy, float* dw, float* workspace, long workspaceLength, in Pitched p, int batch, SimdLevel level)
    {
        int rows = (p.Depth + 5) / 6 * 6, depth = p.OutH * p.OutW;
        long packedDy = (long)p.Slivers * depth * p.Nr, partial = (long)rows * p.Ldc;
        long slot = p.Image + packedDy + partial;
        int chunks = ImplicitChunks(batch, workspaceLength, slot);
        if (chunks == 0) return false;
        var args = new ImplicitArgs { X = x, Y = dy, Workspace = workspace, P = p, Batch = batch, Chunks = chunks, Slot = slot, Level = level };
        RunImplicit(&ImplicitWeightChunk, &args);
        // dw[o, r] = Σ over chunks (in order) of partial[r, o].
        for (int o = 0; o < p.OutC; o++)
        for (int r = 0; r < p.Depth; r++)
        {
            long at = p.Image + packedDy + (long)r * p.Ldc + o;
            float total = workspace[at];
            for (int c = 1; c < chunks; c++) total += workspace[c * slot + at];
            dw[(long)o * p.Depth + r] = total;
        }
        return true;
    }

    static unsafe void ImplicitWeightChunk(nint context, int chunk)
    {
        ref readonly ImplicitArgs a = ref *(ImplicitArgs*)context;
        Pitched p = a.P;
        int depth = p.OutH * p.OutW;
        float* xpad = a.Workspace + chunk * a.Slot, packedDy = xpad + p.Image, partial = packedDy + (long)p.Slivers * depth * p.Nr;
        new Span<float>(xpad, (int)(partial - xpad)).Clear();
        int first = a.Batch * chunk / a.Chunks, end = a.Batch * (chunk + 1) / a.Chunks;
        if (first == end) new Span<float>(partial, (p.Depth + 5) / 6 * 6 * p.Ldc).Clear();
        long imageIn = (long)p.InC * p.InH * p.InW, imageOut = (long)p.OutC * p.OutH * p.OutW;
        for (int n = first; n < end; n++)
        {
            p.CopyIn(a.X + n * imageIn, xpad);
            Gemm.PackConvGradient(a.Y + n * imageOut, p.OutC, p.OutH, p.OutW, p.OutW, p.Nr, depth, packedDy);
            Gemm.ConvWeightImage(a.Level, xpad, p.Depth, p.K, p.Plane, p.Pitch, p.OutH, p.OutW, packedDy, p.Slivers, partial, p.Ldc, load: n > first);
        }
    }

    /// <summary>
    /// y = conv2d(x, w) + b over a batch of NCHW images (see <see cref="Reference.Conv2d{T}"/>), by im2col and one
    /// GEMM per image and group; chunks of images run in parallel, each with its own column matrix.
    /// </summary>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="bias">O values, or empty.</param>
    /// <param name="y">Receives N·O·Ho·Wo outputs.</param>
    /// <param name="workspace">Scratch: <see cref="Conv2dWorkspace"/> floats, or at least one image's column matrix (C·k·k·Ho·Wo).</param>
    /// <param name="g">The geometry.</param>
    /// <param name="activation">
    /// Applied to every output after the bias, in the same pass over each image's freshly computed (cache-resident)
    /// output planes: y = act(conv2d(x, w) + b). The compiler fuses a ReLU, tanh or sigmoid that only reads the
    /// convolution into this epilogue.
    /// </param>
    public static unsafe void Conv2dForward(ReadOnlySpan<float> x, ReadOnlySpan<float> w, ReadOnlySpan<float> bias, Span<float> y, Span<float> workspace, Conv2dGeometry g,
        Activation activation = Activation.None)
    {
        CheckConv(x.Length, w.Length, y.Length, workspace.Length, g);
        if (!bias.IsEmpty) CheckLength(bias.Length, g.OutChannels, nameof(bias));
        if (activation < Activation.None || activation > Activation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(activation));
        fixed (float* px = x, pw = w, pb = bias, py = y, pws = workspace)
        {
            SimdLevel level = ImplicitLevel(g, g.Channels);
            if (level != SimdLevel.Scalar && TryImplicitForward(px, pw, bias.IsEmpty ? null : pb, py, pws, workspace.Length,
                    new Pitched(g.Channels, g.Height, g.Width, g.Kernel, g.Padding, g.OutChannels, level), g.Batch, flipped: false, level, activation))
                return;
            var args = new ConvArgs { X = px, W = pw, Bias = bias.IsEmpty ? null : pb, Y = py, Workspace = pws, G = g, Chunks = DataChunks(g, workspace.Length), Activation = activation };
            RunChunks(&ForwardChunk, &args);
        }
    }

    static unsafe void ForwardChunk(nint context, int chunk)
    {
        ref readonly ConvArgs a = ref *(ConvArgs*)context;
        Conv2dGeometry g = a.G;
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        int cols = ColumnsOf(g), weights = WeightsOf(g);
        var w = new ReadOnlySpan<float>(a.W, weights);
        var workspace = new Span<float>(a.Workspace + (long)chunk * cols, cols);
        bool transposed = ForwardTransposed(g);
        Span<float> scratch = transposed ? ForwardScratch(hw * og) : default;
        for (int n = g.Batch * chunk / a.Chunks, end = g.Batch * (chunk + 1) / a.Chunks; n < end; n++)
        {
            var xn = new ReadOnlySpan<float>(a.X + (long)n * image, image);
            ReadOnlySpan<float> col = xn;
            if (cols != 0)
            {
                Im2Col(xn, workspace, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
                col = workspace;
            }
            var yn = new Span<float>(a.Y + (long)n * g.OutChannels * hw, g.OutChannels * hw);
            if (transposed)
            {
                // (positions × channels) = colᵀ · wᵀ, then transposed into the channel planes with bias and activation.
                for (int grp = 0; grp < g.Groups; grp++)
                {
                    Gemm.SgemmSerial(true, true, hw, og, kk, col.Slice(grp * kk * hw, kk * hw), hw, w.Slice(grp * og * kk, og * kk), kk, scratch, og);
                    TransposeBiasActivate(scratch, yn.Slice(grp * og * hw, og * hw), hw, og, a.Bias != null ? a.Bias + grp * og : null, a.Activation);
                }
                continue;
            }
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.SgemmSerial(false, false, og, hw, kk, w.Slice(grp * og * kk, og * kk), kk, col.Slice(grp * kk * hw, kk * hw), hw,
                    yn.Slice(grp * og * hw, og * hw), hw);
            if (a.Bias != null || a.Activation != Activation.None)
                for (int o = 0; o < g.OutChannels; o++) BiasActivateInPlace(yn.Slice(o * hw, hw), a.Bias != null ? a.Bias[o] : 0f, a.Activation);
        }
    }

    /// <summary>
    /// Whether the forward GEMM of each image and group is better computed transposed, as (positions × channels) =
    /// colᵀ · wᵀ followed by a transposition into channel planes: when the output channels fill the micro-kernel's
    /// 32 (AVX-512) or 16 columns much better than the plane's positions do (64 channels of 14 × 14 = 196
    /// positions: 196 is 6.1 tiles of 32, 64 is 2), measured on 64 × 196 × 288: 63 → 94 GFLOP/s on one core. The
    /// product must be deep enough (C/G·k·k ≥ 32) for the GEMM to outweigh the transposition. Depends only on the
    /// geometry and the SIMD level, so results do not depend on the thread count.
    /// </summary>
    static bool ForwardTransposed(in Conv2dGeometry g)
    {
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels;
        if (kk < 32 || og < 8) return false;
        int nr = CpuFeatures.Active == SimdLevel.Avx512 ? 32 : 16;
        static long Up(int v, int m) => (v + m - 1) / m * (long)m;
        long direct = Up(og, 6) * Up(hw, nr), transposed = Up(hw, 6) * Up(og, nr);
        return transposed * 10 < direct * 9;
    }

    /// <summary>Per-thread scratch for the transposed forward product (grown on demand; steady state allocates nothing).</summary>
    [ThreadStatic] static float[]? t_forwardScratch;

    static Span<float> ForwardScratch(int length)
    {
        var s = t_forwardScratch;
        if (s == null || s.Length < length) t_forwardScratch = s = new float[length];
        return s.AsSpan(0, length);
    }

    /// <summary>y[o·hw + p] = act(t[p·og + o] + bias[o]): a (positions × channels) product into channel planes.</summary>
    static unsafe void TransposeBiasActivate(ReadOnlySpan<float> t, Span<float> y, int hw, int og, float* bias, Activation act)
    {
        // Blocks of 8 channels × 8 positions keep reads and writes within a few cache lines each.
        fixed (float* pt = t, py = y)
        {
            for (int o0 = 0; o0 < og; o0 += 8)
            {
                int o1 = Math.Min(o0 + 8, og);
                for (int p0 = 0; p0 < hw; p0 += 64)
                {
                    int p1 = Math.Min(p0 + 64, hw);
                    for (int o = o0; o < o1; o++)
                    {
                        float b = bias != null ? bias[o] : 0f;
                        float* dst = py + (long)o * hw;
                        float* src = pt + o;
                        for (int p = p0; p < p1; p++) dst[p] = src[(long)p * og] + b;
                    }
                }
            }
        }
        if (act != Activation.None)
            for (int o = 0; o < og; o++) BiasActivateInPlace(y.Slice(o * hw, hw), 0f, act);
    }

    /// <summary>dx = the gradient of <see cref="Conv2dForward"/> with respect to its input (overwritten).</summary>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="dx">Receives N·C·H·W input gradients.</param>
    /// <param name="workspace">Scratch: <see cref="Conv2dWorkspace"/> floats, or at least one image's column matrix (C·k·k·Ho·Wo).</param>
    /// <param name="g">The geometry.</param>
    public static unsafe void Conv2dBackwardData(ReadOnlySpan<float> dy, ReadOnlySpan<float> w, Span<float> dx, Span<float> workspace, Conv2dGeometry g)
    {
        CheckConv(dx.Length, w.Length, dy.Length, workspace.Length, g);
        fixed (float* pdy = dy, pw = w, pdx = dx, pws = workspace)
        {
            // The data gradient is the convolution of dy with the flipped weight (channels exchanged), padding k − 1 − p.
            SimdLevel level = ImplicitLevel(g, g.OutChannels);
            if (level != SimdLevel.Scalar && TryImplicitForward(pdy, pw, null, pdx, pws, workspace.Length,
                    new Pitched(g.OutChannels, g.OutHeight, g.OutWidth, g.Kernel, g.Kernel - 1 - g.Padding, g.Channels, level), g.Batch, flipped: true, level, Activation.None))
                return;
            var args = new ConvArgs { X = pdx, W = pw, Y = pdy, Workspace = pws, G = g, Chunks = DataChunks(g, workspace.Length) };
            RunChunks(&BackwardDataChunk, &args);
        }
    }

    static unsafe void BackwardDataChunk(nint context, int chunk)
    {
        ref readonly ConvArgs a = ref *(ConvArgs*)context;
        Conv2dGeometry g = a.G;
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        int cols = ColumnsOf(g), weights = WeightsOf(g);
        var w = new ReadOnlySpan<float>(a.W, weights);
        var workspace = new Span<float>(a.Workspace + (long)chunk * cols, cols);
        for (int n = g.Batch * chunk / a.Chunks, end = g.Batch * (chunk + 1) / a.Chunks; n < end; n++)
        {
            var dxn = new Span<float>(a.X + (long)n * image, image);
            Span<float> col = cols == 0 ? dxn : workspace;
            var dyn = new ReadOnlySpan<float>(a.Y + (long)n * g.OutChannels * hw, g.OutChannels * hw);
            for (int grp = 0; grp < g.Groups; grp++)
                Gemm.SgemmSerial(true, false, kk, hw, og, w.Slice(grp * og * kk, og * kk), kk, dyn.Slice(grp * og * hw, og * hw), hw,
                    col.Slice(grp * kk * hw, kk * hw), hw);
            if (cols != 0)
            {
                dxn.Clear();
                Col2ImOwned(workspace, dxn, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
            }
        }
    }

    /// <summary>
    /// dw = the gradient of <see cref="Conv2dForward"/> with respect to its weight, summed over the batch (overwritten).
    /// Each chunk of images sums into its own partial (the first into dw), and the partials are added in chunk order.
    /// </summary>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="dw">Receives the O × C/G × k × k weight gradient.</param>
    /// <param name="workspace">Scratch: <see cref="Conv2dWorkspace"/> floats, or at least one image's column matrix (C·k·k·Ho·Wo).</param>
    /// <param name="g">The geometry.</param>
    public static unsafe void Conv2dBackwardWeight(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dw, Span<float> workspace, Conv2dGeometry g)
    {
        CheckConv(x.Length, dw.Length, dy.Length, workspace.Length, g);
        int weights = WeightsOf(g), cols = ColumnsOf(g);
        if (g.Batch == 0)
        {
            dw.Slice(0, weights).Clear();
            return;
        }
        int chunks = WeightChunks(g, workspace.Length);
        int kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels;
        // Few taps per group (a first layer: C·k·k = 9) make dw's rows too short for the GEMM's column tiles: then each
        // chunk computes dwᵀ (taps × O/G per group, a row per tap) in its own slot, and the slots are transposed into dw.
        // The same when O/G fills the micro-kernel's column tiles exactly (32 on AVX-512, else 16) and the taps are at
        // least twice as many: the long side then runs down the 6-row tiles (conv2's 64 × 288 × 196: 90–95 → 105 GFLOP/s
        // on one core).
        int nr = CpuFeatures.Active == SimdLevel.Avx512 ? 32 : 16;
        bool transposed = ((kk < 16 && og >= 2 * kk) || (og % nr == 0 && kk >= 2 * og)) && (long)chunks * (cols + weights) <= workspace.Length;
        fixed (float* px = x, pdy = dy, pdw = dw, pws = workspace)
        {
            SimdLevel level = ImplicitLevel(g, g.Channels);
            if (level != SimdLevel.Scalar && TryImplicitWeight(px, pdy, pdw, pws, workspace.Length,
                    new Pitched(g.Channels, g.Height, g.Width, g.Kernel, g.Padding, g.OutChannels, level), g.Batch, level))
                return;
            var args = new ConvArgs { X = px, Y = pdy, W = pdw, Workspace = pws, G = g, Chunks = chunks, Transposed = transposed };
            RunChunks(&BackwardWeightChunk, &args);
            Span<float> sum = dw.Slice(0, weights);
            if (transposed)
            {
                float* slots = pws + (long)chunks * cols;
                for (int grp = 0; grp < g.Groups; grp++)
                for (int o = 0; o < og; o++)
                for (int r = 0; r < kk; r++)
                {
                    long at = (long)grp * og * kk + (long)r * og + o;
                    float total = slots[at];
                    for (int c = 1; c < chunks; c++) total += slots[(long)c * weights + at];
                    sum[(grp * og + o) * kk + r] = total;
                }
                return;
            }
            for (int c = 1; c < chunks; c++)
                AddInPlace(sum, new ReadOnlySpan<float>(pws + (long)chunks * cols + (long)(c - 1) * weights, weights));
        }
    }

    static unsafe void BackwardWeightChunk(nint context, int chunk)
    {
        ref readonly ConvArgs a = ref *(ConvArgs*)context;
        Conv2dGeometry g = a.G;
        int hw = g.OutHeight * g.OutWidth, kk = g.GroupChannels * g.Kernel * g.Kernel, og = g.GroupOutChannels, image = g.Channels * g.Height * g.Width;
        int cols = ColumnsOf(g), weights = WeightsOf(g);
        var workspace = new Span<float>(a.Workspace + (long)chunk * cols, cols);
        var dw = new Span<float>(a.Transposed ? a.Workspace + (long)a.Chunks * cols + (long)chunk * weights
            : chunk == 0 ? a.W : a.Workspace + (long)a.Chunks * cols + (long)(chunk - 1) * weights, weights);
        int first = g.Batch * chunk / a.Chunks;
        for (int n = first, end = g.Batch * (chunk + 1) / a.Chunks; n < end; n++)
        {
            var xn = new ReadOnlySpan<float>(a.X + (long)n * image, image);
            ReadOnlySpan<float> col = xn;
            if (cols != 0)
            {
                Im2Col(xn, workspace, g.Channels, g.Height, g.Width, g.Kernel, g.Stride, g.Padding, g.Dilation);
                col = workspace;
            }
            var dyn = new ReadOnlySpan<float>(a.Y + (long)n * g.OutChannels * hw, g.OutChannels * hw);
            for (int grp = 0; grp < g.Groups; grp++)
                if (a.Transposed)
                    Gemm.SgemmSerial(false, true, kk, og, hw, col.Slice(grp * kk * hw, kk * hw), hw, dyn.Slice(grp * og * hw, og * hw), hw,
                        dw.Slice(grp * og * kk, og * kk), og, accumulate: n > first);
                else
                    Gemm.SgemmSerial(false, true, og, kk, hw, dyn.Slice(grp * og * hw, og * hw), hw, col.Slice(grp * kk * hw, kk * hw), hw,
                        dw.Slice(grp * og * kk, og * kk), kk, accumulate: n > first);
        }
    }

    /// <summary>db[c] = Σ over the batch and the plane of dy[n, c, ·]: the gradient of a per-channel bias (overwritten).</summary>
    /// <param name="dy">batch·channels·size values.</param>
    /// <param name="db">Receives channels sums.</param>
    /// <param name="batch">N.</param>
    /// <param name="channels">C.</param>
    /// <param name="size">Values per plane (Ho·Wo).</param>
    public static unsafe void ChannelSum(ReadOnlySpan<float> dy, Span<float> db, int batch, int channels, int size)
    {
        CheckLength(dy.Length, Elements(batch, channels, size), nameof(dy));
        CheckLength(db.Length, channels, nameof(db));
        // Serial: the sums stream dy once at memory speed (64 × 64 × 196 in about 60 µs quiet); split over the pool
        // they gained ~20 µs at best and lost more to a descheduled worker on a loaded machine.
        fixed (float* pdy = dy, pdb = db)
        {
            var args = new PoolArgs { X = pdy, Y = pdb, Planes = channels, Height = batch, Width = size, Chunks = 1 };
            ChannelSumChunk((nint)(&args), 0);
        }
    }

    /// <summary>ChannelSum over one chunk of the channels: X is dy, Y is db, Planes the channels, Height the batch, Width the plane size.</summary>
    static unsafe void ChannelSumChunk(nint context, int chunk)
    {
        ref readonly PoolArgs a = ref *(PoolArgs*)context;
        int channels = a.Planes, batch = a.Height, size = a.Width;
        for (int c = channels * chunk / a.Chunks, end = channels * (chunk + 1) / a.Chunks; c < end; c++)
        {
            double sum = 0;
            for (int n = 0; n < batch; n++) sum += SumFloat(new ReadOnlySpan<float>(a.X + ((long)n * channels + c) * size, size));
            a.Y[c] = (float)sum;
        }
    }

    static void CheckConv(int xLength, int wLength, int yLength, int workspaceLength, in Conv2dGeometry g)
    {
        if (g.Groups < 1 || g.Channels < 0 || g.OutChannels < 0 || g.Height < 1 || g.Width < 1 || g.Channels % g.Groups != 0 || g.OutChannels % g.Groups != 0
            || g.Kernel < 1 || g.Stride < 1 || g.Padding < 0 || g.Dilation < 1 || g.Batch < 0 || !OutSizeFits(g.Height, g.Width, g.Kernel, g.Padding, g.Dilation)
            || g.OutHeight < 1 || g.OutWidth < 1)
            throw new ArgumentException($"Invalid convolution geometry {g}.");
        CheckLength(xLength, Elements(g.Batch, g.Channels, g.Height, g.Width), "x");
        CheckLength(wLength, Elements(g.OutChannels, g.GroupChannels, g.Kernel, g.Kernel), "w");
        CheckLength(yLength, Elements(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth), "y");
        // One image's column matrix is counted in int (ColumnsOf, the chunks' slots), even for an empty batch.
        long columns = Elements(Elements(g.Channels, g.Kernel, g.Kernel), g.OutHeight, g.OutWidth);
        if (columns > int.MaxValue)
            throw new ArgumentException($"The convolution {g} has a column matrix of more than {int.MaxValue} floats.");
        if (!IsPointwise(g)) CheckLength(workspaceLength, columns, "workspace");
    }

    /// <summary>Whether <see cref="Conv2dGeometry.OutSize"/>'s int arithmetic cannot overflow for these sizes (H + 2p and d·(k − 1) fit an int).</summary>
    static bool OutSizeFits(int height, int width, int kernel, int padding, int dilation) =>
        height + 2L * padding <= int.MaxValue && width + 2L * padding <= int.MaxValue && (long)dilation * (kernel - 1) <= int.MaxValue;

    /// <summary>Im2Col's and Col2Im's geometry (the caller's sizes, checked before any write); returns the output size.</summary>
    static (int Ho, int Wo) CheckColumns(string kernelName, int channels, int height, int width, int kernel, int stride, int padding, int dilation)
    {
        if (channels < 0 || height < 1 || width < 1 || kernel < 1 || stride < 1 || padding < 0 || dilation < 1 || !OutSizeFits(height, width, kernel, padding, dilation))
            throw new ArgumentException($"{kernelName}: invalid geometry (channels={channels}, {height}x{width}, kernel={kernel}, stride={stride}, padding={padding}, dilation={dilation}).");
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, dilation), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, dilation);
        if (ho < 1 || wo < 1)
            throw new ArgumentException($"{kernelName}: a {kernel}x{kernel} window (dilation {dilation}, padding {padding}) does not fit a {height}x{width} image.");
        return (ho, wo);
    }

    /// <summary>y = act(y + s) elementwise.</summary>
    static void BiasActivateInPlace(Span<float> y, float s, Activation act)
    {
        if (act == Activation.None)
        {
            if (s != 0f) AddScalarInPlace(y, s);
            return;
        }
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = y.Length, i = 0;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            Vector512<float> vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
            {
                Vector512<float> v = Vector512.LoadUnsafe(ref py, (nuint)i) + vs;
                v = act switch
                {
                    Activation.Relu => Vector512.Max(v, Vector512<float>.Zero),
                    Activation.Tanh => VMath.Tanh(v),
                    _ => VMath.Sigmoid(v),
                };
                v.StoreUnsafe(ref py, (nuint)i);
            }
        }
        else if (level == SimdLevel.Avx2)
        {
            Vector256<float> vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
            {
                Vector256<float> v = Vector256.LoadUnsafe(ref py, (nuint)i) + vs;
                v = act switch
                {
                    Activation.Relu => Vector256.Max(v, Vector256<float>.Zero),
                    Activation.Tanh => VMath.Tanh(v),
                    _ => VMath.Sigmoid(v),
                };
                v.StoreUnsafe(ref py, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            float v = Unsafe.Add(ref py, i) + s;
            Unsafe.Add(ref py, i) = act switch
            {
                Activation.Relu => MathF.Max(v, 0f),
                Activation.Tanh => VMath.Tanh(v),
                _ => VMath.Sigmoid(v),
            };
        }
    }

    /// <summary>y += s elementwise.</summary>
    static void AddScalarInPlace(Span<float> y, float s)
    {
        ref float py = ref MemoryMarshal.GetReference(y);
        int n = y.Length, i = 0;
        SimdLevel level = CpuFeatures.Active;
        if (level == SimdLevel.Avx512)
        {
            Vector512<float> vs = Vector512.Create(s);
            for (; i <= n - 16; i += 16)
                (Vector512.LoadUnsafe(ref py, (nuint)i) + vs).StoreUnsafe(ref py, (nuint)i);
        }
        else if (level == SimdLevel.Avx2)
        {
            Vector256<float> vs = Vector256.Create(s);
            for (; i <= n - 8; i += 8)
                (Vector256.LoadUnsafe(ref py, (nuint)i) + vs).StoreUnsafe(ref py, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref py, i) += s;
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>
    /// Max pooling of planes (H × W) with the position of each maximum kept for the backward pass: argmax holds the
    /// index within the plane (r·W + q) as a float, or −1 for a window entirely in the padding (its output is 0).
    /// Padding is never a value; ties go to the first tap in window order (as <see cref="Reference.MaxPool2d{T}"/>).
    /// </summary>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo maxima.</param>
    /// <param name="argmax">Receives planes·Ho·Wo positions.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static unsafe void MaxPool2d(ReadOnlySpan<float> x, Span<float> y, Span<float> argmax, int planes, int height, int width, int kernel, int stride, int padding)
    {
        var (ho, wo) = PoolOut(height, width, kernel, stride, padding);
        CheckPool(x.Length, y.Length, planes, height, width, ho, wo);
        CheckLength(argmax.Length, Elements(planes, ho, wo), nameof(argmax));
        if (kernel == 2 && stride == 2 && padding == 0)
        {
            fixed (float* px = x, py = y, pa = argmax)
            {
                var args = new PoolArgs { X = px, Y = py, Argmax = pa, Planes = planes, Height = height, Width = width };
                args.Chunks = Math.Min(planes, 4 * CpuFeatures.Threads);
                if (planes * ho * wo < 1 << 14 || CpuFeatures.Threads == 1 || !WorkerPool.TryRun(&MaxPool2x2Chunk, (nint)(&args), args.Chunks, CpuFeatures.Threads))
                    for (int c = 0; c < args.Chunks; c++) MaxPool2x2Chunk((nint)(&args), c);
            }
            return;
        }
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<float> plane = x.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    int best = -1;
                    float max = 0f;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                    {
                        float v = plane[r * width + q];
                        if (best < 0 || v > max) { max = v; best = r * width + q; }
                    }
                    y[o] = max;
                    argmax[o] = best;
                }
            }
        }
    }

    unsafe struct PoolArgs
    {
        public float* X, Y, Argmax;
        public int Planes, Height, Width, Chunks, OutHeight, OutWidth;
    }

    /// <summary>2×2 max pooling with stride 2 and no padding over one chunk of the planes (ties to the first tap in window order).</summary>
    static unsafe void MaxPool2x2Chunk(nint context, int chunk)
    {
        ref readonly PoolArgs a = ref *(PoolArgs*)context;
        int width = a.Width, ho = a.Height / 2, wo = a.Width / 2, size = a.Height * a.Width;
        for (int p = a.Planes * chunk / a.Chunks, end = a.Planes * (chunk + 1) / a.Chunks; p < end; p++)
        {
            float* plane = a.X + (long)p * size, y = a.Y + (long)p * ho * wo, am = a.Argmax + (long)p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                float* r0 = plane + 2 * i * width, r1 = r0 + width;
                int at0 = 2 * i * width, j = 0;
                if (Avx2.IsSupported && CpuFeatures.Active != SimdLevel.Scalar && wo >= 8)
                {
                    MaxPool2x2Row8(r0, r1, y + i * wo, am + i * wo, wo, width, at0);
                    continue;
                }
                if (Sse.IsSupported && CpuFeatures.Active != SimdLevel.Scalar && wo >= 4)
                {
                    // Four outputs at a time (the last block overlaps the one before), branch-free: pooled values are
                    // data the branch predictor cannot learn. Even and odd taps are split by one shuffle of 8 inputs.
                    Vector128<int> lanes = Vector128.Create(0, 2, 4, 6);
                    for (; ; j += 4)
                    {
                        if (j > wo - 4) j = wo - 4;
                        int q = 2 * j;
                        Vector128<float> a0 = Vector128.Load(r0 + q), b0 = Vector128.Load(r0 + q + 4);
                        Vector128<float> a1 = Vector128.Load(r1 + q), b1 = Vector128.Load(r1 + q + 4);
                        Vector128<float> m = Sse.Shuffle(a0, b0, 0b10_00_10_00);
                        Vector128<int> at = Vector128.Create(at0 + q) + lanes;
                        Vector128<float> v = Sse.Shuffle(a0, b0, 0b11_01_11_01);
                        Vector128<float> gt = Vector128.GreaterThan(v, m);
                        m = Vector128.ConditionalSelect(gt, v, m);
                        Vector128<int> best = Vector128.ConditionalSelect(gt.AsInt32(), at + Vector128<int>.One, at);
                        v = Sse.Shuffle(a1, b1, 0b10_00_10_00);
                        gt = Vector128.GreaterThan(v, m);
                        m = Vector128.ConditionalSelect(gt, v, m);
                        best = Vector128.ConditionalSelect(gt.AsInt32(), at + Vector128.Create(width), best);
                        v = Sse.Shuffle(a1, b1, 0b11_01_11_01);
                        gt = Vector128.GreaterThan(v, m);
                        m = Vector128.ConditionalSelect(gt, v, m);
                        best = Vector128.ConditionalSelect(gt.AsInt32(), at + Vector128.Create(width + 1), best);
                        m.Store(y + i * wo + j);
                        Vector128.ConvertToSingle(best).Store(am + i * wo + j);
                        if (j == wo - 4) break;
                    }
                    continue;
                }
                for (; j < wo; j++)
                {
                    int q = 2 * j;
                    float max = r0[q];
                    int best = at0 + q;
                    if (r0[q + 1] > max) { max = r0[q + 1]; best = at0 + q + 1; }
                    if (r1[q] > max) { max = r1[q]; best = at0 + width + q; }
                    if (r1[q + 1] > max) { max = r1[q + 1]; best = at0 + width + q + 1; }
                    y[i * wo + j] = max;
                    am[i * wo + j] = best;
                }
            }
        }
    }

    /// <summary>
    /// One output row (wo ≥ 8) of 2×2 max pooling, eight outputs at a time (the last block overlaps the one before):
    /// the even and odd taps of 16 inputs are split by one in-lane shuffle per row, which leaves the outputs in the
    /// order 0 1 4 5 | 2 3 6 7; the maxima and positions are computed in that order and put back by one cross-lane
    /// permute each. Against four outputs at a time (Vector128), pool1 of the samples' CNN (2048 planes of
    /// 28 × 28, 2 threads, same process, medians): 144 → 87 µs.
    /// </summary>
    static unsafe void MaxPool2x2Row8(float* r0, float* r1, float* y, float* am, int wo, int width, int at0)
    {
        Vector256<int> lanes = Vector256.Create(0, 2, 8, 10, 4, 6, 12, 14);
        Vector256<int> right = Vector256<int>.One, below = Vector256.Create(width), belowRight = Vector256.Create(width + 1);
        for (int j = 0; ; j += 8)
        {
            if (j > wo - 8) j = wo - 8;
            int q = 2 * j;
            Vector256<float> a0 = Avx.LoadVector256(r0 + q), b0 = Avx.LoadVector256(r0 + q + 8);
            Vector256<float> a1 = Avx.LoadVector256(r1 + q), b1 = Avx.LoadVector256(r1 + q + 8);
            Vector256<int> at = Vector256.Create(at0 + q) + lanes;
            Vector256<float> m = Avx.Shuffle(a0, b0, 0b10_00_10_00);
            Vector256<float> v = Avx.Shuffle(a0, b0, 0b11_01_11_01);
            Vector256<float> gt = Avx.CompareGreaterThan(v, m);
            m = Avx.BlendVariable(m, v, gt);
            Vector256<int> best = Avx2.BlendVariable(at, at + right, gt.AsInt32());
            v = Avx.Shuffle(a1, b1, 0b10_00_10_00);
            gt = Avx.CompareGreaterThan(v, m);
            m = Avx.BlendVariable(m, v, gt);
            best = Avx2.BlendVariable(best, at + below, gt.AsInt32());
            v = Avx.Shuffle(a1, b1, 0b11_01_11_01);
            gt = Avx.CompareGreaterThan(v, m);
            m = Avx.BlendVariable(m, v, gt);
            best = Avx2.BlendVariable(best, at + belowRight, gt.AsInt32());
            Avx2.Permute4x64(m.AsDouble(), 0b11_01_10_00).AsSingle().Store(y + j);
            Avx2.Permute4x64(Avx.ConvertToVector256Single(best).AsDouble(), 0b11_01_10_00).AsSingle().Store(am + j);
            if (j == wo - 8) break;
        }
    }

    /// <summary>dx = the gradient of <see cref="MaxPool2d"/>: each dy goes to the position argmax recorded (overwritten).</summary>
    /// <param name="argmax">planes·Ho·Wo positions from the forward pass.</param>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="outHeight">Ho.</param>
    /// <param name="outWidth">Wo.</param>
    public static unsafe void MaxPool2dBackward(ReadOnlySpan<float> argmax, ReadOnlySpan<float> dy, Span<float> dx, int planes, int height, int width, int outHeight, int outWidth)
    {
        CheckPool(dx.Length, dy.Length, planes, height, width, outHeight, outWidth);
        long outputs = Elements(planes, outHeight, outWidth);
        CheckLength(argmax.Length, outputs, nameof(argmax));
        if (planes == 0) return;
        // Every position is scattered into its plane below (unchecked pointers): −1 (a window in the padding) or inside the plane.
        CheckIndices(argmax.Slice(0, (int)outputs), -1, (long)height * width, nameof(MaxPool2dBackward), nameof(argmax));
        // Chunks of planes in parallel (each plane's scatter is independent, so the bits do not depend on the threads).
        fixed (float* pa = argmax, pdy = dy, pdx = dx)
        {
            var args = new PoolArgs { X = pdx, Y = pdy, Argmax = pa, Planes = planes, Height = height, Width = width, OutHeight = outHeight, OutWidth = outWidth };
            args.Chunks = Math.Max(1, Math.Min(planes, 4 * CpuFeatures.Threads));
            if (planes * height * width < 1 << 14 || CpuFeatures.Threads == 1 || !WorkerPool.TryRun(&MaxPoolBackwardChunk, (nint)(&args), args.Chunks, CpuFeatures.Threads))
                for (int c = 0; c < args.Chunks; c++) MaxPoolBackwardChunk((nint)(&args), c);
        }
    }

    /// <summary>
    /// Max pooling's backward pass over one chunk of the planes: X is dx, Y is dy. Where the windows can be 2 × 2 blocks
    /// (2·Ho ≤ H, 2·Wo ≤ W) each plane is first written block by block (<see cref="MaxPoolBackwardBlocks"/>: every dx
    /// written once, no clearing pass, no scatter); a plane where some maximum lies outside its output's block (other
    /// windows) is then cleared and scattered instead, as are the rest of the chunk's planes. Both give the same bits:
    /// the blocks are disjoint, so when every maximum lies in its own block no position receives two gradients.
    /// </summary>
    static unsafe void MaxPoolBackwardChunk(nint context, int chunk)
    {
        ref readonly PoolArgs a = ref *(PoolArgs*)context;
        int size = a.Height * a.Width, outSize = a.OutHeight * a.OutWidth;
        int p0 = a.Planes * chunk / a.Chunks, p1 = a.Planes * (chunk + 1) / a.Chunks;
        bool blocks = 2 * a.OutHeight <= a.Height && 2 * a.OutWidth <= a.Width;
        for (int p = p0; p < p1; p++)
        {
            float* plane = a.X + (long)p * size;
            if (blocks && MaxPoolBackwardBlocks(a.Argmax + (long)p * outSize, a.Y + (long)p * outSize, plane, a.Height, a.Width, a.OutHeight, a.OutWidth))
                continue;
            blocks = false;
            new Span<float>(plane, size).Clear();
            for (long o = (long)p * outSize, end = o + outSize; o < end; o++)
            {
                int at = (int)a.Argmax[o];
                if (at >= 0) plane[at] += a.Y[o];
            }
        }
    }

    /// <summary>
    /// One plane of max pooling's gradient written as 2 × 2 blocks: dx[2i + e, 2j + f] = dy[i, j] where argmax[i, j]
    /// is that position, else 0 (and 0 in the rows and columns past 2·Ho, 2·Wo). Each block row of outputs is read
    /// once for both dx rows; the argmax and dy of 8 (AVX-512) or 4 outputs are duplicated into neighbouring lanes and
    /// compared with the positions. Returns false when some maximum lies outside its block (then dx is incomplete).
    /// Against clearing dx and scattering dy (2 threads, same process, medians): pool1 of the samples' CNN (2048
    /// planes, 14 × 14 → 28 × 28) 324 → 124 µs, pool2 (4096 planes, 7 × 7 → 14 × 14) 176 → 121 µs.
    /// </summary>
    static unsafe bool MaxPoolBackwardBlocks(float* argmax, float* dy, float* dx, int height, int width, int ho, int wo)
    {
        SimdLevel level = CpuFeatures.Active;
        int vector = level == SimdLevel.Avx512 && wo >= 8 ? 8 : level != SimdLevel.Scalar && Avx2.IsSupported && wo >= 4 ? 4 : 0;
        long hits = 0;
        for (int i = 0; i < ho; i++)
        {
            float* d0 = dx + 2L * i * width, d1 = d0 + width, ai = argmax + (long)i * wo, gi = dy + (long)i * wo;
            int at0 = 2 * i * width, j = 0;
            if (vector == 8)
            {
                Vector512<int> twice = Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                Vector512<float> lanes = Vector512.Create(0f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
                for (int done = 0; ; j += 8)
                {
                    if (j > wo - 8) j = wo - 8;
                    Vector512<float> at = Avx512F.PermuteVar16x32(Vector256.Load(ai + j).ToVector512Unsafe(), twice);
                    Vector512<float> g = Avx512F.PermuteVar16x32(Vector256.Load(gi + j).ToVector512Unsafe(), twice);
                    Vector512<float> pos = Vector512.Create((float)(at0 + 2 * j)) + lanes;
                    Vector512<float> e0 = Vector512.Equals(at, pos), e1 = Vector512.Equals(at, pos + Vector512.Create((float)width));
                    (g & e0).Store(d0 + 2 * j);
                    (g & e1).Store(d1 + 2 * j);
                    hits += BitOperations.PopCount((e0 | e1).ExtractMostSignificantBits() >> 2 * (done - j));
                    done = j + 8;
                    if (j == wo - 8) break;
                }
                j = wo;
            }
            else if (vector == 4)
            {
                Vector256<int> twice = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
                Vector256<float> lanes = Vector256.Create(0f, 1, 2, 3, 4, 5, 6, 7);
                for (int done = 0; ; j += 4)
                {
                    if (j > wo - 4) j = wo - 4;
                    Vector256<float> at = Avx2.PermuteVar8x32(Vector128.Load(ai + j).ToVector256Unsafe(), twice);
                    Vector256<float> g = Avx2.PermuteVar8x32(Vector128.Load(gi + j).ToVector256Unsafe(), twice);
                    Vector256<float> pos = Vector256.Create((float)(at0 + 2 * j)) + lanes;
                    Vector256<float> e0 = Vector256.Equals(at, pos), e1 = Vector256.Equals(at, pos + Vector256.Create((float)width));
                    (g & e0).Store(d0 + 2 * j);
                    (g & e1).Store(d1 + 2 * j);
                    hits += BitOperations.PopCount((e0 | e1).ExtractMostSignificantBits() >> 2 * (done - j));
                    done = j + 4;
                    if (j == wo - 4) break;
                }
                j = wo;
            }
            for (; j < wo; j++)
            {
                int at = (int)ai[j], b = at0 + 2 * j;
                float g = gi[j];
                d0[2 * j] = at == b ? g : 0f;
                d0[2 * j + 1] = at == b + 1 ? g : 0f;
                d1[2 * j] = at == b + width ? g : 0f;
                d1[2 * j + 1] = at == b + width + 1 ? g : 0f;
                if (at == b || at == b + 1 || at == b + width || at == b + width + 1) hits++;
            }
            for (int q = 2 * wo; q < width; q++) d0[q] = d1[q] = 0f;
        }
        new Span<float>(dx + 2L * ho * width, (height - 2 * ho) * width).Clear();
        return hits == (long)ho * wo;
    }

    /// <summary>Average pooling (padding counts as zeros: the divisor is always kernel², as <see cref="Reference.AvgPool2d{T}"/>).</summary>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo averages.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2d(ReadOnlySpan<float> x, Span<float> y, int planes, int height, int width, int kernel, int stride, int padding)
    {
        var (ho, wo) = PoolOut(height, width, kernel, stride, padding);
        CheckPool(x.Length, y.Length, planes, height, width, ho, wo);
        float scale = 1f / (kernel * kernel);
        for (int p = 0; p < planes; p++)
        {
            ReadOnlySpan<float> plane = x.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    float sum = 0f;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                        sum += plane[r * width + q];
                    y[o] = sum * scale;
                }
            }
        }
    }

    /// <summary>dx = the gradient of <see cref="AvgPool2d"/> (overwritten).</summary>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2dBackward(ReadOnlySpan<float> dy, Span<float> dx, int planes, int height, int width, int kernel, int stride, int padding)
    {
        var (ho, wo) = PoolOut(height, width, kernel, stride, padding);
        CheckPool(dx.Length, dy.Length, planes, height, width, ho, wo);
        float scale = 1f / (kernel * kernel);
        dx.Slice(0, planes * height * width).Clear();
        for (int p = 0; p < planes; p++)
        {
            Span<float> plane = dx.Slice(p * height * width, height * width);
            int o = p * ho * wo;
            for (int i = 0; i < ho; i++)
            {
                int r0 = Math.Max(i * stride - padding, 0), r1 = Math.Min(i * stride - padding + kernel, height);
                for (int j = 0; j < wo; j++, o++)
                {
                    int q0 = Math.Max(j * stride - padding, 0), q1 = Math.Min(j * stride - padding + kernel, width);
                    float d = dy[o] * scale;
                    for (int r = r0; r < r1; r++)
                    for (int q = q0; q < q1; q++)
                        plane[r * width + q] += d;
                }
            }
        }
    }

    /// <summary>y[p] = the mean of plane p: global average pooling, (N, C, H, W) → (N, C).</summary>
    /// <param name="x">planes·size inputs.</param>
    /// <param name="y">Receives planes means.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPool(ReadOnlySpan<float> x, Span<float> y, int planes, int size)
    {
        CheckLength(x.Length, Elements(planes, size), nameof(x));
        CheckLength(y.Length, planes, nameof(y));
        for (int p = 0; p < planes; p++) y[p] = SumFloat(x.Slice(p * size, size)) / size;
    }

    /// <summary>dx[p, ·] = dy[p] / size: the gradient of <see cref="GlobalAvgPool"/>.</summary>
    /// <param name="dy">planes gradients.</param>
    /// <param name="dx">Receives planes·size values.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPoolBackward(ReadOnlySpan<float> dy, Span<float> dx, int planes, int size)
    {
        CheckLength(dx.Length, Elements(planes, size), nameof(dx));
        CheckLength(dy.Length, planes, nameof(dy));
        for (int p = 0; p < planes; p++) dx.Slice(p * size, size).Fill(dy[p] / size);
    }

    /// <summary>A pooling window's output size, after checking the window (a zero stride or a padding overflowing H + 2p is an ArgumentException).</summary>
    static (int Ho, int Wo) PoolOut(int height, int width, int kernel, int stride, int padding)
    {
        if (kernel < 1 || stride < 1 || padding < 0 || !OutSizeFits(height, width, kernel, padding, 1))
            throw new ArgumentException($"Invalid pooling window (kernel={kernel}, stride={stride}, padding={padding}) over {height}x{width}.");
        return (Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), Conv2dGeometry.OutSize(width, kernel, stride, padding, 1));
    }

    static void CheckPool(int xLength, int yLength, int planes, int height, int width, int ho, int wo)
    {
        if (planes < 0 || height < 1 || width < 1 || ho < 1 || wo < 1)
            throw new ArgumentException($"Invalid pooling geometry (planes={planes}, {height}x{width} → {ho}x{wo}).");
        CheckLength(xLength, Elements(planes, height, width), "x");
        CheckLength(yLength, Elements(planes, ho, wo), "y");
    }

    // ---------------------------------------------------------------- layout

    /// <summary>y = x with its axes permuted (y's axis i is x's axis perm[i]); rows along x's last kept-contiguous run are copied whole.</summary>
    /// <param name="x">The input, row-major of shape <paramref name="shape"/>.</param>
    /// <param name="shape">x's dimensions (rank ≤ 8).</param>
    /// <param name="perm">The permutation.</param>
    /// <param name="y">Receives the permuted tensor.</param>
    public static void Permute(ReadOnlySpan<float> x, ReadOnlySpan<int> shape, ReadOnlySpan<int> perm, Span<float> y)
    {
        int rank = shape.Length;
        if (perm.Length != rank || rank > 8) throw new ArgumentException("Permute: the permutation must match the shape's rank (at most 8).");
        CheckPermutation(perm, nameof(Permute));
        ShapeCount(shape, nameof(shape));
        Span<int> strides = stackalloc int[rank];
        long total = 1;
        for (int i = rank - 1; i >= 0; i--) { strides[i] = (int)total; total *= shape[i]; }
        CheckLength(x.Length, total, nameof(x));
        CheckLength(y.Length, total, nameof(y));
        if (total == 0) return;
        // y is walked in order; the innermost y axis is a strided run of x.
        int last = shape[perm[rank - 1]], lastStride = strides[perm[rank - 1]];
        Span<int> index = stackalloc int[rank];
        int source = 0;
        for (int flat = 0; flat < total; flat += last)
        {
            Span<float> dst = y.Slice(flat, last);
            if (lastStride == 1) x.Slice(source, last).CopyTo(dst);
            else for (int t = 0, s = source; t < last; t++, s += lastStride) dst[t] = x[s];
            for (int i = rank - 2; i >= 0; i--)
            {
                int a = perm[i];
                source += strides[a];
                if (++index[i] < shape[a]) break;
                source -= strides[a] * shape[a];
                index[i] = 0;
            }
        }
    }

    /// <summary>Checks that perm holds each axis 0 … rank − 1 once (rank = perm's length).</summary>
    internal static void CheckPermutation(ReadOnlySpan<int> perm, string kernel)
    {
        using var seenScratch = new Scratch<byte>(stackalloc byte[Scratch.StackInts], perm.Length);
        Span<byte> seen = seenScratch.Span;
        seen.Clear();
        for (int i = 0; i < perm.Length; i++)
        {
            int a = perm[i];
            if ((uint)a >= (uint)perm.Length || seen[a] != 0)
                throw new ArgumentException($"{kernel}: {Format(perm)} is not a permutation of {perm.Length} axes (perm[{i}] = {a}).", "perm");
            seen[a] = 1;
        }
    }

    /// <summary>Concatenation of a (outer, na, inner) and b (outer, nb, inner) into y (outer, na + nb, inner).</summary>
    /// <param name="a">The first operand.</param>
    /// <param name="b">The second operand.</param>
    /// <param name="y">Receives the concatenation.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="na">a's length along the axis.</param>
    /// <param name="nb">b's length along the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Concat(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y, int outer, int na, int nb, int inner)
    {
        CheckLength(a.Length, Elements(outer, na, inner), nameof(a));
        CheckLength(b.Length, Elements(outer, nb, inner), nameof(b));
        CheckLength(y.Length, Elements(outer, (long)na + nb, inner), nameof(y));
        Reference.Concat<float>(a, b, y, outer, na, nb, inner);
    }

    /// <summary>y = x[:, start : start + length, :] of the (outer × axis × inner) view.</summary>
    /// <param name="x">The input.</param>
    /// <param name="y">Receives outer·length·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">x's length along the axis.</param>
    /// <param name="start">The first index taken.</param>
    /// <param name="length">How many indices are taken.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Slice(ReadOnlySpan<float> x, Span<float> y, int outer, int axis, int start, int length, int inner)
    {
        CheckSlice(nameof(Slice), outer, axis, start, length, inner);
        CheckLength(x.Length, Elements(outer, axis, inner), nameof(x));
        CheckLength(y.Length, Elements(outer, length, inner), nameof(y));
        Reference.Slice<float>(x, y, outer, axis, start, length, inner);
    }

    /// <summary>dx = dy placed at its window of the axis, zeros elsewhere: the gradient of <see cref="Slice"/> (overwritten).</summary>
    /// <param name="dy">outer·length·inner gradients.</param>
    /// <param name="dx">Receives outer·axis·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">dx's length along the axis.</param>
    /// <param name="start">The first index of the window.</param>
    /// <param name="length">The window's length.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void SliceBackward(ReadOnlySpan<float> dy, Span<float> dx, int outer, int axis, int start, int length, int inner)
    {
        CheckSlice(nameof(SliceBackward), outer, axis, start, length, inner);
        CheckLength(dx.Length, Elements(outer, axis, inner), nameof(dx));
        CheckLength(dy.Length, Elements(outer, length, inner), nameof(dy));
        Reference.SliceBackward<float>(dy, dx.Slice(0, outer * axis * inner), outer, axis, start, length, inner);
    }

    /// <summary>The window [start, start + length) lies in [0, axis) (in long: start + length may exceed an int) and the sizes are non-negative.</summary>
    static void CheckSlice(string kernel, int outer, int axis, int start, int length, int inner)
    {
        if (outer < 0 || axis < 0 || inner < 0)
            throw new ArgumentException($"{kernel}: sizes must be non-negative (outer={outer}, axis={axis}, inner={inner}).");
        if (start < 0 || length < 0 || (long)start + length > axis)
            throw new ArgumentException($"{kernel}: the window [{start}, {(long)start + length}) is outside an axis of {axis}.", nameof(start));
    }
}
