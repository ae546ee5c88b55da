using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace ModelGen.Gpu.Tests;

public class DeviceSmokeTests
{
    static void AddOne(Index1D i, ArrayView<float> x) => x[i] += 1f;

    [Fact]
    public void A_kernel_runs_on_the_test_device()
    {
        var device = GpuTestDevice.Device;
        using var x = GpuTestDevice.Upload(new float[] { 1, 2, 3 });
        var kernel = device.Accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>>(AddOne);
        kernel(device.Stream, 3, x.View);
        Assert.Equal(new float[] { 2, 3, 4 }, GpuTestDevice.Download(x.View, 3));
    }
}
