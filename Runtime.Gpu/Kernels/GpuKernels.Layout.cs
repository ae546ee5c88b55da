using System;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

// Layout kernels (the GPU twins of the layout part of Runtime/Cpu/Kernels.Convolution.cs): a thread per output element,
// so the writes are coalesced; Concat, Slice and SliceBackward read coalesced too, Permute reads along x's strides.
public static partial class GpuKernels
{
    /// <summary>
    /// y = x with its axes permuted (y's axis i is x's axis perm[i]). Rank ≤ 8 as on the CPU; perm must be a permutation
    /// of 0 … rank − 1. A thread per element of y (neighbouring y elements read x along its stride of y's last axis).
    /// </summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input, row-major of shape <paramref name="shape"/>.</param>
    /// <param name="shape">x's dimensions (rank ≤ 8).</param>
    /// <param name="perm">The permutation.</param>
    /// <param name="y">Receives the permuted tensor.</param>
    public static void Permute(GpuDevice device, ArrayView<float> x, ReadOnlySpan<int> shape, ReadOnlySpan<int> perm, ArrayView<float> y)
    {
        int rank = shape.Length;
        if (perm.Length != rank || rank > 8) throw new ArgumentException("Permute: the permutation must match the shape's rank (at most 8).");
        ModelGen.Cpu.Kernels.CheckPermutation(perm, nameof(Permute));
        long total = ModelGen.Cpu.Kernels.ShapeCount(shape, nameof(shape));
        CoreChecks.Length(x.Length, total, nameof(x));
        CoreChecks.Length(y.Length, total, nameof(y));
        if (total == 0) return;
        Span<int> strides = stackalloc int[rank];
        long s = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            strides[i] = (int)s;
            s *= shape[i];
        }
        Span<int> ySizes = stackalloc int[rank], yStrides = stackalloc int[rank];
        for (int i = 0; i < rank; i++)
        {
            ySizes[i] = shape[perm[i]];
            yStrides[i] = strides[perm[i]];
        }
        var map = ShapePlan.Collapse(ySizes, yStrides).All();
        CoreLaunch.Core(device).Gather(device.Stream, (int)total, new CoreGatherArgs { X = x, Y = y, Map = map });
    }

    /// <summary>Concatenation of a (outer, na, inner) and b (outer, nb, inner) into y (outer, na + nb, inner).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="a">The first operand.</param>
    /// <param name="b">The second operand.</param>
    /// <param name="y">Receives the concatenation.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="na">a's length along the axis.</param>
    /// <param name="nb">b's length along the axis.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Concat(GpuDevice device, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int outer, int na, int nb, int inner)
    {
        CoreChecks.NonNegative(outer, na, inner);
        CoreChecks.NonNegative(outer, nb, inner);
        CoreChecks.NonNegative(outer, na + nb, inner);
        CoreChecks.Length(a.Length, ModelGen.Cpu.Kernels.Elements(outer, na, inner), nameof(a));
        CoreChecks.Length(b.Length, ModelGen.Cpu.Kernels.Elements(outer, nb, inner), nameof(b));
        CoreChecks.Length(y.Length, ModelGen.Cpu.Kernels.Elements(outer, (long)na + nb, inner), nameof(y));
        int total = outer * (na + nb) * inner;
        if (total == 0) return;
        LayoutFamily.Of(device).Concat(device.Stream, total, new LayoutArgs { X = a, X2 = b, Y = y, Axis = na + nb, Start = na, Length = nb, Inner = inner });
    }

    /// <summary>y = x[:, start : start + length, :] of the (outer × axis × inner) view.</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="x">The input.</param>
    /// <param name="y">Receives outer·length·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">x's length along the axis.</param>
    /// <param name="start">The first index taken.</param>
    /// <param name="length">How many indices are taken.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void Slice(GpuDevice device, ArrayView<float> x, ArrayView<float> y, int outer, int axis, int start, int length, int inner)
    {
        if (start < 0 || length < 0 || (long)start + length > axis) throw new ArgumentException($"Slice [{start}, {(long)start + length}) is outside an axis of {axis}.");
        CoreChecks.NonNegative(outer, axis, inner);
        CoreChecks.Length(x.Length, ModelGen.Cpu.Kernels.Elements(outer, axis, inner), nameof(x));
        CoreChecks.Length(y.Length, ModelGen.Cpu.Kernels.Elements(outer, length, inner), nameof(y));
        int total = outer * length * inner;
        if (total == 0) return;
        LayoutFamily.Of(device).Slice(device.Stream, total, new LayoutArgs { X = x, Y = y, Axis = axis, Start = start, Length = length, Inner = inner });
    }

    /// <summary>dx = dy placed at its window of the axis, zeros elsewhere: the gradient of <see cref="Slice"/> (overwritten).</summary>
    /// <param name="device">The device whose stream runs the kernel.</param>
    /// <param name="dy">outer·length·inner gradients.</param>
    /// <param name="dx">Receives outer·axis·inner values.</param>
    /// <param name="outer">The product of the dimensions before the axis.</param>
    /// <param name="axis">dx's length along the axis.</param>
    /// <param name="start">The first index of the window.</param>
    /// <param name="length">The window's length.</param>
    /// <param name="inner">The product of the dimensions after the axis.</param>
    public static void SliceBackward(GpuDevice device, ArrayView<float> dy, ArrayView<float> dx, int outer, int axis, int start, int length, int inner)
    {
        if (start < 0 || length < 0 || (long)start + length > axis) throw new ArgumentException($"Slice [{start}, {(long)start + length}) is outside an axis of {axis}.");
        CoreChecks.NonNegative(outer, axis, inner);
        CoreChecks.Length(dx.Length, ModelGen.Cpu.Kernels.Elements(outer, axis, inner), nameof(dx));
        CoreChecks.Length(dy.Length, ModelGen.Cpu.Kernels.Elements(outer, length, inner), nameof(dy));
        int total = outer * axis * inner;
        if (total == 0) return;
        LayoutFamily.Of(device).SliceBackward(device.Stream, total, new LayoutArgs { X = dy, Y = dx, Axis = axis, Start = start, Length = length, Inner = inner });
    }
}

/// <summary>The layout kernels, compiled once per device.</summary>
internal sealed class LayoutFamily
{
    public readonly Action<AcceleratorStream, Index1D, LayoutArgs> Concat;
    public readonly Action<AcceleratorStream, Index1D, LayoutArgs> Slice;
    public readonly Action<AcceleratorStream, Index1D, LayoutArgs> SliceBackward;

    LayoutFamily(Accelerator a)
    {
        Concat = a.LoadAutoGroupedKernel<Index1D, LayoutArgs>(LayoutCode.ConcatKernel);
        Slice = a.LoadAutoGroupedKernel<Index1D, LayoutArgs>(LayoutCode.SliceKernel);
        SliceBackward = a.LoadAutoGroupedKernel<Index1D, LayoutArgs>(LayoutCode.SliceBackwardKernel);
    }

    public static LayoutFamily Of(GpuDevice device) => device.Kernels(a => new LayoutFamily(a));
}

/// <summary>
/// An (outer × axis × inner) view with a window [Start, Start + Length) of the axis. For Concat: X is a (na = Start),
/// X2 is b (nb = Length), Axis = na + nb.
/// </summary>
internal struct LayoutArgs
{
    public ArrayView<float> X, X2, Y;
    public int Axis, Start, Length, Inner;
}

/// <summary>The device code of the layout kernels.</summary>
internal static class LayoutCode
{
    /// <summary>y[o, j, i] = j &lt; na ? a[o, j, i] : b[o, j − na, i].</summary>
    public static void ConcatKernel(Index1D index, LayoutArgs a)
    {
        int block = a.Axis * a.Inner;
        int o = index / block, rest = index - o * block;
        int j = rest / a.Inner, i = rest - j * a.Inner;
        a.Y[index] = j < a.Start
            ? a.X[(o * a.Start + j) * a.Inner + i]
            : a.X2[(o * a.Length + j - a.Start) * a.Inner + i];
    }

    /// <summary>y[o, j, i] = x[o, start + j, i].</summary>
    public static void SliceKernel(Index1D index, LayoutArgs a)
    {
        int block = a.Length * a.Inner;
        int o = index / block, rest = index - o * block;
        a.Y[index] = a.X[(o * a.Axis + a.Start) * a.Inner + rest];
    }

    /// <summary>dx[o, j, i] = dy[o, j − start, i] inside the window, 0 outside.</summary>
    public static void SliceBackwardKernel(Index1D index, LayoutArgs a)
    {
        int block = a.Axis * a.Inner;
        int o = index / block, rest = index - o * block;
        int j = rest / a.Inner;
        a.Y[index] = j >= a.Start && j < a.Start + a.Length
            ? a.X[(o * a.Length + j - a.Start) * a.Inner + rest - j * a.Inner]
            : 0f;
    }
}
