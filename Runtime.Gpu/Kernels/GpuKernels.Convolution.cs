using System;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ModelGen.Cpu;

namespace ModelGen.Gpu;

// Convolution over NCHW images as implicit GEMMs: no column matrix is built; each group of threads owns one tile of
// the product, gathers the tiles of its operands (the image taps, dy, the weight) straight from the tensors into
// shared memory, BK = 8 reduction steps per slice at a time, and each thread accumulates a 4 × 4 register block.
//   forward          M = N·Ho·Wo output pixels, N = O/G output channels,  K = C/G·k·k (channel, tap)
//   backward data    M = N·H·W input pixels,    N = C/G input channels,   K = O/G·k·k (channel, tap)
//   backward weight  M = O/G output channels,   N = C/G·k·k,              K = N·Ho·Wo (split-K, then a fixed-order sum)
// One launch covers every channel group (the grid's slowest index). Every output element is written by exactly one
// thread, and each sum runs in a fixed order, so results do not depend on scheduling.
public static partial class GpuKernels
{
    /// <summary>
    /// y = act(conv2d(x, w) + b) over a batch of NCHW images: the GPU form of <see cref="Kernels.Conv2dForward"/>
    /// (groups, stride, padding, dilation; bias optional), as one implicit-GEMM launch.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="bias">O values, or an empty view.</param>
    /// <param name="y">Receives N·O·Ho·Wo outputs (overwritten).</param>
    /// <param name="workspace">Not used on the GPU (kept for the CPU kernel's signature).</param>
    /// <param name="g">The geometry.</param>
    /// <param name="activation">Applied to every output after the bias (None, Relu, Tanh or Sigmoid, computed as <see cref="VMath"/> does).</param>
    public static void Conv2dForward(GpuDevice device, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> y,
        ArrayView<float> workspace, Conv2dGeometry g, Activation activation = Activation.None)
    {
        ConvCheck(x.Length, w.Length, y.Length, g);
        if (bias.Length > 0) ConvCheckLength(bias.Length, g.OutChannels, nameof(bias));
        if (activation < Activation.None || activation > Activation.Sigmoid)
            throw new ArgumentOutOfRangeException(nameof(activation));
        var k = device.Kernels(a => new ConvolutionKernels(a));
        long m = (long)g.Batch * g.OutHeight * g.OutWidth;
        if (m == 0) return;
        var args = ConvolutionKernels.Plan(k.MaxThreads, ConvolutionKernels.Forward, g, m, g.GroupOutChannels, g.GroupChannels * g.Kernel * g.Kernel, 1);
        args.Act = (int)activation;
        args.HasBias = bias.Length > 0 ? 1 : 0;
        if (args.TilesN == 0) return;
        k.Gemm(device.Stream, args.Config, args, x, w, bias.Length > 0 ? bias : y, y);
    }

    /// <summary>
    /// dx = the gradient of <see cref="Conv2dForward"/> with respect to its input (overwritten): the GPU form of
    /// <see cref="Kernels.Conv2dBackwardData"/>, as one implicit-GEMM launch over the input pixels.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="w">The weight, O × C/G × k × k.</param>
    /// <param name="dx">Receives N·C·H·W input gradients.</param>
    /// <param name="workspace">Not used on the GPU (kept for the CPU kernel's signature).</param>
    /// <param name="g">The geometry.</param>
    public static void Conv2dBackwardData(GpuDevice device, ArrayView<float> dy, ArrayView<float> w, ArrayView<float> dx, ArrayView<float> workspace,
        Conv2dGeometry g)
    {
        ConvCheck(dx.Length, w.Length, dy.Length, g);
        var k = device.Kernels(a => new ConvolutionKernels(a));
        long m = (long)g.Batch * g.Height * g.Width;
        if (m == 0) return;
        var args = ConvolutionKernels.Plan(k.MaxThreads, ConvolutionKernels.BackwardData, g, m, g.GroupChannels, g.GroupOutChannels * g.Kernel * g.Kernel, 1);
        if (args.TilesN == 0) return;
        k.Gemm(device.Stream, args.Config, args, dy, w, dx, dx);
    }

    /// <summary>
    /// dw = the gradient of <see cref="Conv2dForward"/> with respect to its weight, summed over the batch (overwritten,
    /// as <see cref="Kernels.Conv2dBackwardWeight"/>). An implicit GEMM whose reduction runs over the batch's output
    /// pixels: when <paramref name="workspace"/> holds at least two weight gradients (O·C/G·k·k floats each), the
    /// reduction is split into up to 64 ranges whose partial gradients land in the workspace and are then added in
    /// range order by a second kernel; otherwise each group of threads reduces the whole range for its tile of dw.
    /// Either way the result depends only on the geometry and the workspace's length, never on scheduling.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernels.</param>
    /// <param name="x">N·C·H·W inputs.</param>
    /// <param name="dy">N·O·Ho·Wo output gradients.</param>
    /// <param name="dw">Receives the O × C/G × k × k weight gradient.</param>
    /// <param name="workspace">Scratch for the split reduction (<see cref="Kernels.Conv2dWorkspace"/> floats is plenty), or an empty view.</param>
    /// <param name="g">The geometry.</param>
    public static void Conv2dBackwardWeight(GpuDevice device, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> dw, ArrayView<float> workspace,
        Conv2dGeometry g)
    {
        ConvCheck(x.Length, dw.Length, dy.Length, g);
        var k = device.Kernels(a => new ConvolutionKernels(a));
        int weights = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel;
        if (weights == 0) return;
        long depth = (long)g.Batch * g.OutHeight * g.OutWidth;
        if (depth > int.MaxValue) throw new ArgumentException($"Convolution {g}: the weight gradient's reduction ({depth}) is too long.");
        var args = ConvolutionKernels.Plan(k.MaxThreads, ConvolutionKernels.BackwardWeight, g, g.GroupOutChannels, g.GroupChannels * g.Kernel * g.Kernel,
            (int)depth, (int)Math.Min(ConvolutionKernels.MaxSplits, workspace.Length / Math.Max(weights, 1)));
        if (args.Splits == 1)
        {
            k.Gemm(device.Stream, args.Config, args, dy, x, dw, dw);
            return;
        }
        k.Gemm(device.Stream, args.Config, args, dy, x, dw, workspace);
        k.SumSplits(device.Stream, weights, workspace, dw, weights, args.Splits);
    }

    /// <summary>Validates a convolution's geometry and tensor lengths (the CPU kernels' checks, less the workspace).</summary>
    static void ConvCheck(long xLength, long wLength, long yLength, in Conv2dGeometry g)
    {
        if (g.Groups < 1 || g.Channels % g.Groups != 0 || g.OutChannels % g.Groups != 0 || g.Kernel < 1 || g.Stride < 1 || g.Padding < 0 || g.Dilation < 1
            || g.OutHeight < 1 || g.OutWidth < 1 || g.Batch < 0)
            throw new ArgumentException($"Invalid convolution geometry {g}.");
        ConvCheckLength(xLength, ModelGen.Cpu.Kernels.Elements(g.Batch, g.Channels, g.Height, g.Width), "x");
        ConvCheckLength(wLength, ModelGen.Cpu.Kernels.Elements(g.OutChannels, g.GroupChannels, g.Kernel, g.Kernel), "w");
        ConvCheckLength(yLength, ModelGen.Cpu.Kernels.Elements(g.Batch, g.OutChannels, g.OutHeight, g.OutWidth), "y");
        if ((long)g.Batch * Math.Max(ModelGen.Cpu.Kernels.Elements(g.Channels, g.Height, g.Width), ModelGen.Cpu.Kernels.Elements(g.OutChannels, g.OutHeight, g.OutWidth)) > int.MaxValue)
            throw new ArgumentException($"Convolution {g}: tensors of more than {int.MaxValue} elements are not supported on the GPU.");
    }

    /// <summary>The CPU kernels' length check: a buffer shorter than needed is an <see cref="ArgumentException"/>.</summary>
    static void ConvCheckLength(long length, long needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"Span {name} has {length} elements but {needed} are needed.", name);
    }
}

/// <summary>
/// The scalars of one implicit-GEMM convolution launch (<see cref="ConvolutionKernels.Gemm"/>): the geometry, the
/// product's dimensions and the tile shape. Threads of a group form Kz slices of Tm × Tn threads; a tile is
/// (4·Tm) × (4·Tn) and each slice reduces its own 8 of every 8·Kz reduction steps, the slices' sums added in order.
/// </summary>
internal struct ConvGemmArgs
{
    /// <summary>0 forward, 1 data gradient, 2 weight gradient.</summary>
    public int Mode;

    /// <summary>The fused activation (forward).</summary>
    public int Act;

    /// <summary>1 when the forward adds a bias.</summary>
    public int HasBias;

    /// <summary>The geometry: input channels, height, width, output channels, output height, width, kernel, stride, padding, dilation, groups, channels per group (in, out).</summary>
    public int C, H, W, O, Ho, Wo, K, Stride, Pad, Dil, G, Cg, Og;

    /// <summary>The product per group: M × N, reduced over KTotal, in ranges of KSplit (Splits ranges).</summary>
    public int M, N, KTotal, KSplit, Splits;

    /// <summary>The tile shape: Tm × Tn threads per slice, Kz slices; log2 of the tile's rows, columns and reduction steps.</summary>
    public int Tm, Tn, Kz, BmLog, BnLog, KcLog;

    /// <summary>Tiles along M and N.</summary>
    public int TilesM, TilesN;

    /// <summary>The weight's length (the stride between split partial sums).</summary>
    public int WeightLength;

    /// <summary>The launch: one group of Tm·Tn·Kz threads per (tile, channel group, split).</summary>
    public readonly KernelConfig Config => new(TilesM * TilesN * G * Splits, Tm * Tn * Kz);
}

/// <summary>The convolution kernels of one device (see <see cref="GpuKernels.Conv2dForward"/>).</summary>
internal sealed class ConvolutionKernels
{
    /// <summary>Modes of <see cref="Gemm"/>.</summary>
    public const int Forward = 0, BackwardData = 1, BackwardWeight = 2;

    /// <summary>Reduction steps per slice and shared-memory load.</summary>
    const int Bk = 8;

    /// <summary>
    /// Shared floats per group: the A and B tiles, rows padded by one float against bank conflicts,
    /// 8·Kz·(4·Tm + 4·Tn + 2) ≤ 8960 for Tm·Tn·Kz ≤ 256 and Kz ≤ 16 (powers of two); the slices' final reduction
    /// needs 16·Tm·Tn·Kz ≤ 4096 of them.
    /// </summary>
    const int SharedFloats = 8960;

    /// <summary>The most slices a group splits its reduction steps into.</summary>
    const int MaxSlices = 16;

    /// <summary>The most ranges the weight gradient's reduction is split into.</summary>
    public const int MaxSplits = 64;

    /// <summary>The shortest range of a split weight-gradient reduction (pixels of the batch).</summary>
    const int MinSplitDepth = 512;

    /// <summary>Threads per group: the largest power of two within the device's limit and 256.</summary>
    public readonly int MaxThreads;

    /// <summary>The implicit-GEMM kernel (all three modes).</summary>
    public readonly Action<AcceleratorStream, KernelConfig, ConvGemmArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> Gemm;

    /// <summary>dst[e] = Σ over s (in order) of src[s·length + e], e &lt; length.</summary>
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int, int> SumSplits;

    public ConvolutionKernels(Accelerator a)
    {
        MaxThreads = PowerOfTwoAtMost(Math.Min(256, a.MaxNumThreadsPerGroup));
        Gemm = a.LoadKernel<ConvGemmArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(GemmKernel);
        SumSplits = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int, int>(SumSplitsKernel);
    }

    internal static int PowerOfTwoAtMost(int v)
    {
        int p = 1;
        while (p * 2 <= v) p *= 2;
        return p;
    }

    internal static int PowerOfTwoAtLeast(long v)
    {
        int p = 1;
        while (p < v) p *= 2;
        return p;
    }

    static int Log2(int v)
    {
        int l = 0;
        while ((1 << l) < v) l++;
        return l;
    }

    /// <summary>
    /// The launch of one convolution GEMM of M × N (per channel group) reduced over depth: the tile as close to the
    /// product's shape as the group allows (4 × 4 outputs per thread, at most √threads threads across N while M needs
    /// more), the group's spare threads as slices of the reduction, and for the weight gradient up to
    /// <paramref name="maxSplits"/> ranges of the reduction when the tiles alone leave the GPU idle.
    /// </summary>
    public static ConvGemmArgs Plan(int threads, int mode, in Conv2dGeometry g, long m, int n, int depth, int maxSplits)
    {
        if (m > int.MaxValue) throw new ArgumentException($"Convolution {g}: the product has too many rows ({m}).");
        int square = 1;
        while (square * square * 4 <= threads) square *= 2;
        int needM = PowerOfTwoAtLeast((m + 3) / 4), needN = PowerOfTwoAtLeast((n + 3) / 4);
        int tn = Math.Min(needN, square);
        int tm = Math.Min(needM, threads / tn);
        if (tm * tn < threads) tn = Math.Min(needN, threads / tm);
        int kz = Math.Min(Math.Min(threads / (tm * tn), MaxSlices), PowerOfTwoAtLeast(((long)depth + Bk - 1) / Bk));
        int bm = 4 * tm, bn = 4 * tn, kc = Bk * kz;
        int tilesM = (int)((m + bm - 1) / bm), tilesN = (n + bn - 1) / bn;
        int splits = 1, kSplit = depth;
        long tiles = (long)tilesM * tilesN * g.Groups;
        if (maxSplits > 1 && depth > MinSplitDepth)
        {
            splits = (int)Math.Min(Math.Min(maxSplits, (depth + MinSplitDepth - 1) / MinSplitDepth), Math.Max(1, 1024 / tiles));
            kSplit = (depth + splits - 1) / splits;
            kSplit = (kSplit + kc - 1) / kc * kc;
            splits = (depth + kSplit - 1) / kSplit;
        }
        long groups = tiles * splits;
        if (kc * (bm + bn + 2) > SharedFloats || 16 * tm * tn * kz > SharedFloats)
            throw new InvalidOperationException($"Convolution tile {bm} × {bn} × {kc} exceeds the kernel's shared memory.");
        if (groups > int.MaxValue) throw new ArgumentException($"Convolution {g}: too many tiles ({groups}).");
        return new ConvGemmArgs
        {
            Mode = mode,
            C = g.Channels, H = g.Height, W = g.Width, O = g.OutChannels, Ho = g.OutHeight, Wo = g.OutWidth, K = g.Kernel,
            Stride = g.Stride, Pad = g.Padding, Dil = g.Dilation, G = g.Groups, Cg = g.GroupChannels, Og = g.GroupOutChannels,
            M = (int)m, N = n, KTotal = depth, KSplit = Math.Max(kSplit, 1), Splits = splits,
            Tm = tm, Tn = tn, Kz = kz, BmLog = Log2(bm), BnLog = Log2(bn), KcLog = Log2(kc),
            TilesM = tilesM, TilesN = tilesN, WeightLength = g.OutChannels * g.GroupChannels * g.Kernel * g.Kernel,
        };
    }

    /// <summary>
    /// One tile of a convolution GEMM. src and aux are the operands (forward: x and w; data gradient: dy and w; weight
    /// gradient: dy and x), bias the forward's bias (any view when there is none), dst the output (y, dx, dw or the
    /// split partials).
    /// </summary>
    static void GemmKernel(ConvGemmArgs a, ArrayView<float> src, ArrayView<float> aux, ArrayView<float> bias, ArrayView<float> dst)
    {
        var sh = SharedMemory.Allocate<float>(SharedFloats);
        int t = Group.IdxX, threads = Group.DimX;
        int tile = Grid.IdxX;
        int tileM = tile % a.TilesM;
        tile /= a.TilesM;
        int tileN = tile % a.TilesN;
        tile /= a.TilesN;
        int grp = tile % a.G, split = tile / a.G;

        int bm = 1 << a.BmLog, bn = 1 << a.BnLog, kc = 1 << a.KcLog;
        int sa = bm + 1, sb = bn + 1; // padded row strides of the tiles
        int mBase = tileM * bm, nBase = tileN * bn, bOffset = kc * sa;
        int kBegin = split * a.KSplit, kEnd = XMath.Min(kBegin + a.KSplit, a.KTotal);
        int slice = a.Tm * a.Tn, z = t / slice, tt = t - z * slice, ty = tt % a.Tm, tx = tt / a.Tm;
        bool aAlongM = a.Mode != ConvolutionKernels.BackwardWeight;

        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f;
        float c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f;
        float c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;

        for (int k0 = kBegin; k0 < kEnd; k0 += kc)
        {
            // A tile (kc × bm, row kk at kk·sa): consecutive threads take consecutive pixels where A's pixels are
            // contiguous in memory (forward, data gradient), else consecutive reduction steps.
            for (int e = t; e < kc * bm; e += threads)
            {
                int mm, kk;
                if (aAlongM)
                {
                    mm = e & (bm - 1);
                    kk = e >> a.BmLog;
                }
                else
                {
                    kk = e & (kc - 1);
                    mm = e >> a.KcLog;
                }
                int m = mBase + mm, k = k0 + kk;
                float v = 0f;
                if (m < a.M && k < kEnd) v = LoadA(a, src, grp, m, k);
                sh[kk * sa + mm] = v;
            }
            // B tile (kc × bn, row kk at bOffset + kk·sb): consecutive threads take consecutive reduction steps.
            for (int e = t; e < kc * bn; e += threads)
            {
                int kk = e & (kc - 1), nn = e >> a.KcLog;
                int n = nBase + nn, k = k0 + kk;
                float v = 0f;
                if (n < a.N && k < kEnd) v = LoadB(a, aux, grp, k, n);
                sh[bOffset + kk * sb + nn] = v;
            }
            Group.Barrier();
            for (int kk = z * 8, end = kk + 8; kk < end; kk++)
            {
                int ao = kk * sa + ty, bo = bOffset + kk * sb + tx;
                float a0 = sh[ao], a1 = sh[ao + a.Tm], a2 = sh[ao + 2 * a.Tm], a3 = sh[ao + 3 * a.Tm];
                float b0 = sh[bo], b1 = sh[bo + a.Tn], b2 = sh[bo + 2 * a.Tn], b3 = sh[bo + 3 * a.Tn];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        if (a.Kz > 1)
        {
            // The slices' blocks meet in shared memory (entry e of thread tt of slice z at (z·16 + e)·slice + tt) and
            // slice 0 adds them in slice order.
            int o = z * 16 * slice + tt;
            sh[o] = c00; sh[o + slice] = c01; sh[o + 2 * slice] = c02; sh[o + 3 * slice] = c03;
            sh[o + 4 * slice] = c10; sh[o + 5 * slice] = c11; sh[o + 6 * slice] = c12; sh[o + 7 * slice] = c13;
            sh[o + 8 * slice] = c20; sh[o + 9 * slice] = c21; sh[o + 10 * slice] = c22; sh[o + 11 * slice] = c23;
            sh[o + 12 * slice] = c30; sh[o + 13 * slice] = c31; sh[o + 14 * slice] = c32; sh[o + 15 * slice] = c33;
            Group.Barrier();
            if (z == 0)
            {
                for (int s = 1; s < a.Kz; s++)
                {
                    int p = s * 16 * slice + tt;
                    c00 += sh[p]; c01 += sh[p + slice]; c02 += sh[p + 2 * slice]; c03 += sh[p + 3 * slice];
                    c10 += sh[p + 4 * slice]; c11 += sh[p + 5 * slice]; c12 += sh[p + 6 * slice]; c13 += sh[p + 7 * slice];
                    c20 += sh[p + 8 * slice]; c21 += sh[p + 9 * slice]; c22 += sh[p + 10 * slice]; c23 += sh[p + 11 * slice];
                    c30 += sh[p + 12 * slice]; c31 += sh[p + 13 * slice]; c32 += sh[p + 14 * slice]; c33 += sh[p + 15 * slice];
                }
            }
        }
        if (z != 0) return;

        int m0 = mBase + ty, n0 = nBase + tx;
        int m1 = m0 + a.Tm, m2 = m1 + a.Tm, m3 = m2 + a.Tm;
        int n1 = n0 + a.Tn, n2 = n1 + a.Tn, n3 = n2 + a.Tn;
        Store(a, bias, dst, grp, split, m0, n0, c00); Store(a, bias, dst, grp, split, m0, n1, c01);
        Store(a, bias, dst, grp, split, m0, n2, c02); Store(a, bias, dst, grp, split, m0, n3, c03);
        Store(a, bias, dst, grp, split, m1, n0, c10); Store(a, bias, dst, grp, split, m1, n1, c11);
        Store(a, bias, dst, grp, split, m1, n2, c12); Store(a, bias, dst, grp, split, m1, n3, c13);
        Store(a, bias, dst, grp, split, m2, n0, c20); Store(a, bias, dst, grp, split, m2, n1, c21);
        Store(a, bias, dst, grp, split, m2, n2, c22); Store(a, bias, dst, grp, split, m2, n3, c23);
        Store(a, bias, dst, grp, split, m3, n0, c30); Store(a, bias, dst, grp, split, m3, n1, c31);
        Store(a, bias, dst, grp, split, m3, n2, c32); Store(a, bias, dst, grp, split, m3, n3, c33);
    }

    /// <summary>
    /// The image tap of output pixel <paramref name="pixel"/> (over the batch) and tap <paramref name="tap"/> = (c, u, v)
    /// of group <paramref name="grp"/>: x[n, grp·C/G + c, i·s − p + u·d, j·s − p + v·d], 0 in the padding.
    /// </summary>
    static float Im2Col(ConvGemmArgs a, ArrayView<float> x, int grp, int pixel, int tap)
    {
        int hwo = a.Ho * a.Wo, kk = a.K * a.K;
        int img = pixel / hwo, pix = pixel - img * hwo;
        int i = pix / a.Wo, j = pix - i * a.Wo;
        int c = tap / kk, uv = tap - c * kk;
        int u = uv / a.K, v = uv - u * a.K;
        int r = i * a.Stride - a.Pad + u * a.Dil, q = j * a.Stride - a.Pad + v * a.Dil;
        if (r < 0 || r >= a.H || q < 0 || q >= a.W) return 0f;
        return x[((img * a.C + grp * a.Cg + c) * a.H + r) * a.W + q];
    }

    /// <summary>A[m, k] of the mode's product (see the file's header).</summary>
    static float LoadA(ConvGemmArgs a, ArrayView<float> src, int grp, int m, int k)
    {
        if (a.Mode == ConvolutionKernels.Forward) return Im2Col(a, src, grp, m, k);
        int hwo = a.Ho * a.Wo;
        if (a.Mode == ConvolutionKernels.BackwardWeight)
        {
            // dy[n, grp·O/G + m, pixel], k = (n, pixel).
            int n = k / hwo;
            return src[(n * a.O + grp * a.Og + m) * hwo + (k - n * hwo)];
        }
        // Data gradient: m = (n, r, q) an input pixel, k = (o, u, v); dy[n, o, i, j] where r = i·s − p + u·d, q likewise.
        int hw = a.H * a.W, kk = a.K * a.K;
        int img = m / hw, pix = m - img * hw;
        int r = pix / a.W, q = pix - r * a.W;
        int o = k / kk, uv = k - o * kk;
        int u = uv / a.K, v = uv - u * a.K;
        int ti = r + a.Pad - u * a.Dil, tj = q + a.Pad - v * a.Dil;
        if (ti < 0 || tj < 0) return 0f;
        int i = ti / a.Stride, j = tj / a.Stride;
        if (i * a.Stride != ti || j * a.Stride != tj || i >= a.Ho || j >= a.Wo) return 0f;
        return src[((img * a.O + grp * a.Og + o) * a.Ho + i) * a.Wo + j];
    }

    /// <summary>B[k, n] of the mode's product (see the file's header).</summary>
    static float LoadB(ConvGemmArgs a, ArrayView<float> aux, int grp, int k, int n)
    {
        if (a.Mode == ConvolutionKernels.Forward) return aux[(grp * a.Og + n) * a.KTotal + k];
        if (a.Mode == ConvolutionKernels.BackwardWeight) return Im2Col(a, aux, grp, k, n);
        // Data gradient: w[grp·O/G + o, n, u, v], k = (o, u, v).
        int kk = a.K * a.K, o = k / kk;
        return aux[((grp * a.Og + o) * a.Cg + n) * kk + (k - o * kk)];
    }

    /// <summary>Writes C[m, n] of the mode's product: y (with bias and activation), dx, or dw / its split partial.</summary>
    static void Store(ConvGemmArgs a, ArrayView<float> bias, ArrayView<float> dst, int grp, int split, int m, int n, float value)
    {
        if (m >= a.M || n >= a.N) return;
        if (a.Mode == ConvolutionKernels.Forward)
        {
            int hwo = a.Ho * a.Wo, img = m / hwo, o = grp * a.Og + n;
            if (a.HasBias != 0) value += bias[o];
            dst[(img * a.O + o) * hwo + (m - img * hwo)] = Activate(a.Act, value);
        }
        else if (a.Mode == ConvolutionKernels.BackwardData)
        {
            int hw = a.H * a.W, img = m / hw;
            dst[(img * a.C + grp * a.Cg + n) * hw + (m - img * hw)] = value;
        }
        else
        {
            dst[split * a.WeightLength + (grp * a.Og + m) * a.N + n] = value;
        }
    }

    /// <summary>The activation as <see cref="VMath"/> computes it (1 ReLU, 2 tanh, 3 sigmoid, else the identity).</summary>
    internal static float Activate(int act, float v)
    {
        if (act == 1) return v > 0f ? v : 0f;
        if (act == 2) return Tanh(v);
        if (act == 3) return Sigmoid(v);
        return v;
    }

    /// <summary>The CPU's <see cref="VMath.Tanh(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    internal static float Tanh(float x) => VMath.Tanh(x);

    /// <summary>The CPU's <see cref="VMath.Sigmoid(float)"/> itself (ILGPU compiles it), so that both backends compute the same values.</summary>
    internal static float Sigmoid(float x) => VMath.Sigmoid(x);

    static void SumSplitsKernel(Index1D e, ArrayView<float> src, ArrayView<float> dst, int length, int splits)
    {
        float sum = src[e];
        for (int s = 1; s < splits; s++) sum += src[s * length + e];
        dst[e] = sum;
    }
}
