using System;
using ILGPU;
using ILGPU.Runtime;
using ModelGen.Cpu;

namespace ModelGen.Gpu;

// Pooling over NCHW planes and the per-channel sums: one thread per output (max and average pooling), one thread per
// input (the average pooling gradient, which gathers its windows in the CPU's order), one group per plane (max
// pooling's gradient, scattering in output order without atomics) and one group per sum (a fixed-order reduction in
// shared memory: ChannelSum, GlobalAvgPool).
public static partial class GpuKernels
{
    /// <summary>
    /// db[c] = Σ over the batch and the plane of dy[n, c, ·] (overwritten): the GPU form of <see cref="Kernels.ChannelSum"/>,
    /// one group of threads per channel reducing in a fixed order.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">batch·channels·size values.</param>
    /// <param name="db">Receives channels sums.</param>
    /// <param name="batch">N.</param>
    /// <param name="channels">C.</param>
    /// <param name="size">Values per plane (Ho·Wo).</param>
    public static void ChannelSum(GpuDevice device, ArrayView<float> dy, ArrayView<float> db, int batch, int channels, int size)
    {
        ConvCheckLength(dy.Length, ModelGen.Cpu.Kernels.Elements(batch, channels, size), nameof(dy));
        ConvCheckLength(db.Length, channels, nameof(db));
        if (channels <= 0) return;
        if (ModelGen.Cpu.Kernels.Elements(batch, channels, size) > int.MaxValue) throw new ArgumentException($"ChannelSum: {batch}·{channels}·{size} values are too many for the GPU kernel.");
        var k = device.Kernels(a => new PoolingKernels(a));
        k.SegmentSum(device.Stream, k.SumConfig(channels, (long)batch * size), dy, db, batch, channels * size, size, 1f);
    }

    /// <summary>
    /// Max pooling (the GPU form of <see cref="Kernels.MaxPool2d"/>): argmax receives the index within the plane
    /// (r·W + q) of each maximum as a float, or −1 for a window entirely in the padding (its output is 0); ties go to
    /// the first tap in window order. One thread per output.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo maxima.</param>
    /// <param name="argmax">Receives planes·Ho·Wo positions.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void MaxPool2d(GpuDevice device, ArrayView<float> x, ArrayView<float> y, ArrayView<float> argmax, int planes, int height, int width,
        int kernel, int stride, int padding)
    {
        var p = PoolCheck(x.Length, y.Length, planes, height, width, kernel, stride, padding);
        ConvCheckLength(argmax.Length, ModelGen.Cpu.Kernels.Elements(planes, p.Ho, p.Wo), nameof(argmax));
        if (planes == 0) return;
        var k = device.Kernels(a => new PoolingKernels(a));
        k.MaxPool(device.Stream, planes * p.Ho * p.Wo, p, x, y, argmax);
    }

    /// <summary>
    /// dx = the gradient of <see cref="MaxPool2d"/> (overwritten): each dy goes to the position argmax recorded, as
    /// <see cref="Kernels.MaxPool2dBackward"/>; a position outside the plane (which the CPU rejects) is skipped. One group per plane clears it, then takes the outputs in order a group's
    /// width at a time; of the outputs of one such step that share a position, the first adds all their gradients in
    /// output order, so the sums are the CPU's, bit for bit, with no atomics.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="argmax">planes·Ho·Wo positions from the forward pass.</param>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="outHeight">Ho.</param>
    /// <param name="outWidth">Wo.</param>
    public static void MaxPool2dBackward(GpuDevice device, ArrayView<float> argmax, ArrayView<float> dy, ArrayView<float> dx, int planes, int height, int width,
        int outHeight, int outWidth)
    {
        if (planes < 0 || height < 1 || width < 1 || outHeight < 1 || outWidth < 1)
            throw new ArgumentException($"Invalid pooling geometry (planes={planes}, {height}x{width} → {outHeight}x{outWidth}).");
        ConvCheckLength(dx.Length, ModelGen.Cpu.Kernels.Elements(planes, height, width), "x");
        ConvCheckLength(dy.Length, ModelGen.Cpu.Kernels.Elements(planes, outHeight, outWidth), "y");
        ConvCheckLength(argmax.Length, ModelGen.Cpu.Kernels.Elements(planes, outHeight, outWidth), nameof(argmax));
        if (planes == 0) return;
        PoolCheckSize(ModelGen.Cpu.Kernels.Elements(planes, Math.Max((long)height * width, (long)outHeight * outWidth)));
        var k = device.Kernels(a => new PoolingKernels(a));
        var p = new PoolArgs { H = height, W = width, Ho = outHeight, Wo = outWidth };
        int threads = Math.Min(k.MaxThreads, Math.Max(32, ConvolutionKernels.PowerOfTwoAtLeast(outHeight * outWidth)));
        k.MaxPoolBackward(device.Stream, new KernelConfig(planes, threads), p, argmax, dy, dx);
    }

    /// <summary>
    /// Average pooling (the GPU form of <see cref="Kernels.AvgPool2d"/>; padding counts as zeros: the divisor is
    /// always kernel²). One thread per output.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">planes·H·W inputs.</param>
    /// <param name="y">Receives planes·Ho·Wo averages.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2d(GpuDevice device, ArrayView<float> x, ArrayView<float> y, int planes, int height, int width, int kernel, int stride, int padding)
    {
        var p = PoolCheck(x.Length, y.Length, planes, height, width, kernel, stride, padding);
        if (planes == 0) return;
        var k = device.Kernels(a => new PoolingKernels(a));
        k.AvgPool(device.Stream, planes * p.Ho * p.Wo, p, x, y);
    }

    /// <summary>
    /// dx = the gradient of <see cref="AvgPool2d"/> (overwritten), as <see cref="Kernels.AvgPool2dBackward"/>: one
    /// thread per input gathers the windows that cover it, in output order.
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">planes·Ho·Wo output gradients.</param>
    /// <param name="dx">Receives planes·H·W input gradients.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="height">H.</param>
    /// <param name="width">W.</param>
    /// <param name="kernel">Window size.</param>
    /// <param name="stride">Window step.</param>
    /// <param name="padding">Border on each side.</param>
    public static void AvgPool2dBackward(GpuDevice device, ArrayView<float> dy, ArrayView<float> dx, int planes, int height, int width, int kernel, int stride,
        int padding)
    {
        var p = PoolCheck(dx.Length, dy.Length, planes, height, width, kernel, stride, padding);
        if (planes == 0) return;
        var k = device.Kernels(a => new PoolingKernels(a));
        k.AvgPoolBackward(device.Stream, planes * height * width, p, dy, dx);
    }

    /// <summary>y[p] = the mean of plane p (the GPU form of <see cref="Kernels.GlobalAvgPool"/>): one group per plane.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">planes·size inputs.</param>
    /// <param name="y">Receives planes means.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPool(GpuDevice device, ArrayView<float> x, ArrayView<float> y, int planes, int size)
    {
        ConvCheckLength(x.Length, (long)planes * size, nameof(x));
        ConvCheckLength(y.Length, planes, nameof(y));
        if (planes <= 0) return;
        PoolCheckSize((long)planes * size);
        var k = device.Kernels(a => new PoolingKernels(a));
        k.SegmentSum(device.Stream, k.SumConfig(planes, size), x, y, 1, size, size, size);
    }

    /// <summary>dx[p, ·] = dy[p] / size: the gradient of <see cref="GlobalAvgPool"/> (overwritten).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">planes gradients.</param>
    /// <param name="dx">Receives planes·size values.</param>
    /// <param name="planes">N·C.</param>
    /// <param name="size">H·W.</param>
    public static void GlobalAvgPoolBackward(GpuDevice device, ArrayView<float> dy, ArrayView<float> dx, int planes, int size)
    {
        ConvCheckLength(dx.Length, (long)planes * size, nameof(dx));
        ConvCheckLength(dy.Length, planes, nameof(dy));
        if (planes <= 0 || size <= 0) return;
        PoolCheckSize((long)planes * size);
        var k = device.Kernels(a => new PoolingKernels(a));
        k.GlobalAvgPoolBackward(device.Stream, planes * size, dy, dx, size);
    }

    /// <summary>The CPU's pooling checks; the output size.</summary>
    static PoolArgs PoolCheck(long xLength, long yLength, int planes, int height, int width, int kernel, int stride, int padding)
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        if (planes < 0 || height < 1 || width < 1 || ho < 1 || wo < 1)
            throw new ArgumentException($"Invalid pooling geometry (planes={planes}, {height}x{width} → {ho}x{wo}).");
        ConvCheckLength(xLength, ModelGen.Cpu.Kernels.Elements(planes, height, width), "x");
        ConvCheckLength(yLength, ModelGen.Cpu.Kernels.Elements(planes, ho, wo), "y");
        PoolCheckSize(ModelGen.Cpu.Kernels.Elements(planes, Math.Max((long)height * width, (long)ho * wo)));
        return new PoolArgs { H = height, W = width, Ho = ho, Wo = wo, K = kernel, S = stride, P = padding };
    }

    static void PoolCheckSize(long elements)
    {
        if (elements > int.MaxValue) throw new ArgumentException($"Pooling over {elements} elements: too many for the GPU kernels.");
    }
}

/// <summary>A pooling window's geometry: input and output plane sizes, kernel, stride, padding.</summary>
internal struct PoolArgs
{
    /// <summary>Input height and width, output height and width.</summary>
    public int H, W, Ho, Wo;

    /// <summary>Window size, step and border.</summary>
    public int K, S, P;
}

/// <summary>The pooling and per-channel sum kernels of one device.</summary>
internal sealed class PoolingKernels
{
    /// <summary>The most threads of a reduction or scatter group (shared arrays are this long).</summary>
    const int MaxGroup = 256;

    /// <summary>Threads per group: the largest power of two within the device's limit and 256.</summary>
    public readonly int MaxThreads;

    public readonly Action<AcceleratorStream, Index1D, PoolArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>> MaxPool;
    public readonly Action<AcceleratorStream, KernelConfig, PoolArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>> MaxPoolBackward;
    public readonly Action<AcceleratorStream, Index1D, PoolArgs, ArrayView<float>, ArrayView<float>> AvgPool;
    public readonly Action<AcceleratorStream, Index1D, PoolArgs, ArrayView<float>, ArrayView<float>> AvgPoolBackward;
    public readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int> GlobalAvgPoolBackward;

    /// <summary>dst[s] = (Σ over r &lt; reps, i &lt; length of src[r·repStride + s·length + i]) / divisor: one group per s.</summary>
    public readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, int, int, int, float> SegmentSum;

    public PoolingKernels(Accelerator a)
    {
        MaxThreads = ConvolutionKernels.PowerOfTwoAtMost(Math.Min(MaxGroup, a.MaxNumThreadsPerGroup));
        MaxPool = a.LoadAutoGroupedKernel<Index1D, PoolArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MaxPoolKernel);
        MaxPoolBackward = a.LoadKernel<PoolArgs, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MaxPoolBackwardKernel);
        AvgPool = a.LoadAutoGroupedKernel<Index1D, PoolArgs, ArrayView<float>, ArrayView<float>>(AvgPoolKernel);
        AvgPoolBackward = a.LoadAutoGroupedKernel<Index1D, PoolArgs, ArrayView<float>, ArrayView<float>>(AvgPoolBackwardKernel);
        GlobalAvgPoolBackward = a.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(GlobalAvgPoolBackwardKernel);
        SegmentSum = a.LoadKernel<ArrayView<float>, ArrayView<float>, int, int, int, float>(SegmentSumKernel);
    }

    /// <summary>One group per segment, as many threads (a power of two, at least 32) as the segment's values need.</summary>
    public KernelConfig SumConfig(int segments, long values) =>
        new(segments, Math.Min(MaxThreads, Math.Max(32, ConvolutionKernels.PowerOfTwoAtLeast(Math.Min(values, MaxGroup)))));

    static void MaxPoolKernel(Index1D o, PoolArgs a, ArrayView<float> x, ArrayView<float> y, ArrayView<float> argmax)
    {
        int outSize = a.Ho * a.Wo, plane = o / outSize, at = o - plane * outSize;
        int i = at / a.Wo, j = at - i * a.Wo;
        int r0 = i * a.S - a.P, q0 = j * a.S - a.P;
        int r1 = r0 + a.K < a.H ? r0 + a.K : a.H, q1 = q0 + a.K < a.W ? q0 + a.K : a.W;
        if (r0 < 0) r0 = 0;
        if (q0 < 0) q0 = 0;
        int origin = plane * a.H * a.W, best = -1;
        float max = 0f;
        for (int r = r0; r < r1; r++)
        for (int q = q0; q < q1; q++)
        {
            float v = x[origin + r * a.W + q];
            if (best < 0 || v > max)
            {
                max = v;
                best = r * a.W + q;
            }
        }
        y[o] = max;
        argmax[o] = best;
    }

    static void MaxPoolBackwardKernel(PoolArgs a, ArrayView<float> argmax, ArrayView<float> dy, ArrayView<float> dx)
    {
        var positions = SharedMemory.Allocate<int>(MaxGroup);
        var grads = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, threads = Group.DimX, plane = Grid.IdxX;
        int size = a.H * a.W, outSize = a.Ho * a.Wo, origin = plane * size, outOrigin = plane * outSize;
        for (int e = t; e < size; e += threads) dx[origin + e] = 0f;
        Group.Barrier();
        for (int b = 0; b < outSize; b += threads)
        {
            int o = b + t, at = -1;
            float g = 0f;
            if (o < outSize)
            {
                at = (int)argmax[outOrigin + o];
                // A position outside the plane (argmax not from MaxPool2d) is skipped, never written: the device cannot
                // throw, and the host does not read device memory (the CPU kernel throws for it).
                if (at >= size) at = -1;
                g = dy[outOrigin + o];
            }
            positions[t] = at;
            grads[t] = g;
            Group.Barrier();
            if (at >= 0)
            {
                bool first = true;
                for (int s = 0; s < t; s++)
                    if (positions[s] == at)
                    {
                        first = false;
                        break;
                    }
                if (first)
                {
                    float v = dx[origin + at] + g;
                    for (int s = t + 1; s < threads; s++)
                        if (positions[s] == at) v += grads[s];
                    dx[origin + at] = v;
                }
            }
            Group.Barrier();
        }
    }

    static void AvgPoolKernel(Index1D o, PoolArgs a, ArrayView<float> x, ArrayView<float> y)
    {
        int outSize = a.Ho * a.Wo, plane = o / outSize, at = o - plane * outSize;
        int i = at / a.Wo, j = at - i * a.Wo;
        int r0 = i * a.S - a.P, q0 = j * a.S - a.P;
        int r1 = r0 + a.K < a.H ? r0 + a.K : a.H, q1 = q0 + a.K < a.W ? q0 + a.K : a.W;
        if (r0 < 0) r0 = 0;
        if (q0 < 0) q0 = 0;
        int origin = plane * a.H * a.W;
        float sum = 0f;
        for (int r = r0; r < r1; r++)
        for (int q = q0; q < q1; q++)
            sum += x[origin + r * a.W + q];
        y[o] = sum * (1f / (a.K * a.K));
    }

    static void AvgPoolBackwardKernel(Index1D e, PoolArgs a, ArrayView<float> dy, ArrayView<float> dx)
    {
        int size = a.H * a.W, plane = e / size, at = e - plane * size;
        int r = at / a.W, q = at - r * a.W;
        // Outputs i whose window rows [i·s − p, i·s − p + k) hold r: (r + p − k)/s < i ≤ (r + p)/s.
        int i0 = r + a.P - a.K < 0 ? 0 : (r + a.P - a.K) / a.S + 1, i1 = (r + a.P) / a.S;
        int j0 = q + a.P - a.K < 0 ? 0 : (q + a.P - a.K) / a.S + 1, j1 = (q + a.P) / a.S;
        if (i1 > a.Ho - 1) i1 = a.Ho - 1;
        if (j1 > a.Wo - 1) j1 = a.Wo - 1;
        float scale = 1f / (a.K * a.K), sum = 0f;
        int outOrigin = plane * a.Ho * a.Wo;
        for (int i = i0; i <= i1; i++)
        for (int j = j0; j <= j1; j++)
            sum += dy[outOrigin + i * a.Wo + j] * scale;
        dx[e] = sum;
    }

    static void GlobalAvgPoolBackwardKernel(Index1D e, ArrayView<float> dy, ArrayView<float> dx, int size)
    {
        int plane = e / size;
        dx[e] = dy[plane] / size;
    }

    static void SegmentSumKernel(ArrayView<float> src, ArrayView<float> dst, int reps, int repStride, int length, float divisor)
    {
        var partial = SharedMemory.Allocate<float>(MaxGroup);
        int t = Group.IdxX, threads = Group.DimX, segment = Grid.IdxX;
        int origin = segment * length, total = reps * length;
        float sum = 0f;
        for (int f = t; f < total; f += threads)
        {
            int r = f / length;
            sum += src[r * repStride + origin + (f - r * length)];
        }
        partial[t] = sum;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (t < half) partial[t] += partial[t + half];
            Group.Barrier();
        }
        if (t == 0) dst[segment] = partial[0] / divisor;
    }
}
