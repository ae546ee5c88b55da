using System;
using ILGPU;
using ILGPU.Runtime;

namespace ModelGen.Gpu;

/// <summary>
/// The GPU column of the op table: one host method per runtime kernel of <c>ModelGen.Cpu.Kernels</c> and
/// <c>ModelGen.Cpu.Gemm</c>, with the same name and the same parameters in the same order, except that
/// <list type="bullet">
/// <item>the first parameter is the <see cref="GpuDevice"/> whose stream runs the kernel;</item>
/// <item>every float buffer (<c>Span&lt;float&gt;</c>, <c>ReadOnlySpan&lt;float&gt;</c>) is an <c>ArrayView&lt;float&gt;</c> and the
/// labels an <c>ArrayView&lt;int&gt;</c>; an empty view stands for an empty span;</item>
/// <item>a <c>float dLoss</c> (a gradient that the generated code reads from a node) is a <see cref="DeviceScalar"/>;</item>
/// <item>a kernel that returns a float on the CPU writes it to a trailing one-element <c>ArrayView&lt;float&gt; result</c>.</item>
/// </list>
/// Host methods only queue kernels on <see cref="GpuDevice.Stream"/>: they never wait and never read device memory.
/// The files of this folder hold the families (GEMM, convolution, losses, ...), each with the ILGPU kernels it launches.
/// </summary>
public static partial class GpuKernels
{
    /// <summary>Threads per group of the one-dimensional kernels.</summary>
    internal const int GroupSize = 256;

    /// <summary>A grid of whole groups covering <paramref name="count"/> threads (at least one group).</summary>
    internal static KernelConfig Groups(long count, int groupSize = GroupSize) =>
        new((int)Math.Max(1, (count + groupSize - 1) / groupSize), groupSize);
}
