using System;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

// ILGPU's CPU accelerator runs one kernel at a time per stream; the suites share one device, so they run in sequence.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace ModelGen.Gpu.Tests;

/// <summary>
/// The device the GPU tests run on: <c>MODELGEN_GPU_TEST_DEVICE</c> (for example <c>cuda:0</c> on a machine with an NVIDIA
/// GPU) or, by default, ILGPU's CPU accelerator (<c>gpu-emulator:0</c>), which runs the same kernels on CPU threads.
/// </summary>
public static class GpuTestDevice
{
    static readonly Lazy<GpuDevice> Lazy = new(() =>
    {
        GpuBackend.Register();
        string id = Environment.GetEnvironmentVariable("MODELGEN_GPU_TEST_DEVICE") is { Length: > 0 } s ? s : "gpu-emulator:0";
        return (GpuDevice)ModelGen.Device.Parse(id);
    });

    /// <summary>The device under test.</summary>
    public static GpuDevice Device => Lazy.Value;

    /// <summary>Copies <paramref name="values"/> to a new device buffer (dispose it).</summary>
    public static MemoryBuffer1D<float, Stride1D.Dense> Upload(float[] values)
    {
        var buffer = Device.Allocate<float>(values.Length, "test data");
        if (values.Length > 0) buffer.View.SubView(0, values.Length).CopyFromCPU(Device.Stream, values);
        return buffer;
    }

    /// <summary>Copies <paramref name="values"/> to a new device buffer (dispose it).</summary>
    public static MemoryBuffer1D<int, Stride1D.Dense> Upload(int[] values)
    {
        var buffer = Device.Allocate<int>(values.Length, "test data");
        if (values.Length > 0) buffer.View.SubView(0, values.Length).CopyFromCPU(Device.Stream, values);
        return buffer;
    }

    /// <summary>A zeroed device buffer of <paramref name="length"/> floats (dispose it).</summary>
    public static MemoryBuffer1D<float, Stride1D.Dense> Zeros(int length) => Device.Allocate<float>(length, "test data");

    /// <summary>Waits for the device and copies the first <paramref name="length"/> floats of <paramref name="view"/> back.</summary>
    public static float[] Download(ArrayView<float> view, int length)
    {
        Device.Synchronize();
        var result = new float[length];
        if (length > 0) view.SubView(0, length).CopyToCPU(Device.Stream, result);
        Device.Synchronize();
        return result;
    }

    /// <summary>Seeded uniform values in [lo, hi).</summary>
    public static float[] Random(int length, int seed, float lo = -1f, float hi = 1f)
    {
        var r = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = lo + (float)r.NextDouble() * (hi - lo);
        return a;
    }

    /// <summary>Asserts that every element agrees within <c>atol + rtol·|expected|</c>, naming the first that does not.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float atol = 1e-5f, float rtol = 1e-4f, string what = "")
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            float e = expected[i], a = actual[i];
            if (float.IsNaN(e) && float.IsNaN(a)) continue;
            if (!(Math.Abs(e - a) <= atol + rtol * Math.Abs(e)))
                Assert.Fail($"{what}[{i}]: expected {e}, got {a} (tolerance {atol} + {rtol}·|expected|)");
        }
    }
}
