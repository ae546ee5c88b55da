using System;
using System.Linq;
using System.Text.RegularExpressions;
using FashionMnistSample;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// <see cref="Device"/>'s choices and names with the GPU backend registered: parsing command-line ids, the best device,
/// GPU numbers out of range, the device list and the one-line descriptions. The GPU-count-dependent answers are checked
/// for this machine's case (no CUDA or OpenCL device here; a machine with a GPU takes the other branch).
/// </summary>
public sealed class DeviceTests
{
    public DeviceTests() => GpuBackend.Register();

    [Fact]
    public void ParseCpuIsTheCpu()
    {
        Assert.Same(Device.Cpu, Device.Parse("cpu"));
        Assert.Same(Device.Cpu, Device.Parse(" CPU "));
        Assert.Equal(DeviceKind.Cpu, Device.Cpu.Kind);
        Assert.False(Device.Cpu.IsGpu);
        Assert.Equal("cpu", Device.Cpu.Id);
    }

    [Fact]
    public void ParseGpuEmulatorGivesTheEmulatorOnce()
    {
        var device = Device.Parse("gpu-emulator:0");
        var gpu = Assert.IsType<GpuDevice>(device);
        Assert.Equal(DeviceKind.GpuEmulator, gpu.Kind);
        Assert.True(gpu.IsGpu);
        Assert.Equal("gpu-emulator:0", gpu.Id);
        // One device object per device: To(device) compares devices by reference.
        Assert.Same(device, Device.Parse("gpu-emulator:0"));
        Assert.Same(device, Device.Parse("GPU-Emulator:0"));
    }

    [Fact]
    public void ParseOfAnUnknownIdThrowsNamingIt()
    {
        foreach (string id in new[] { "tpu:3", "cuda:7", "opencl:9", "banana" })
        {
            var e = Assert.Throws<DeviceException>(() => Device.Parse(id));
            Assert.Contains($"'{id}'", e.Message, StringComparison.Ordinal);
            Assert.Contains("cpu", e.Message, StringComparison.Ordinal); // it lists the devices there are
        }
    }

    [Theory]
    [InlineData("gpu-emulator:3")]
    [InlineData("gpu-emulatorX")]
    public void OnlyEmulatorZeroExists(string id)
    {
        var e = Assert.Throws<DeviceException>(() => Device.Parse(id));
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BestIsTheCpuAndSaysWhyWithoutAGpu()
    {
        var best = Device.Best(out string why);
        if (Device.Gpus.Count == 0)
        {
            Assert.Same(Device.Cpu, best);
            Assert.StartsWith("running on the CPU", why, StringComparison.Ordinal);
            Assert.Contains("no CUDA or OpenCL device", why, StringComparison.Ordinal);
            Assert.Same(Device.Cpu, Device.Parse("best"));
            Assert.Throws<DeviceException>(() => Device.Parse("gpu"));
            Assert.Throws<DeviceException>(() => Device.Parse("0"));
        }
        else
        {
            Assert.Same(Device.Gpus[0], best);
            Assert.Equal("running on " + best, why);
        }
    }

    [Fact]
    public void GpuNumberFiveThrows()
    {
        if (Device.Gpus.Count > 5) return; // a machine with six GPUs has a GPU number 5
        var e = Assert.Throws<DeviceException>(() => Device.Gpu(5));
        Assert.Contains("GPU", e.Message, StringComparison.Ordinal);
        Assert.Throws<DeviceException>(() => Device.Gpu(-1));
    }

    [Fact]
    public void AllStartsWithTheCpuThenTheGpus()
    {
        var all = Device.All;
        Assert.NotEmpty(all);
        Assert.Same(Device.Cpu, all[0]);
        Assert.Equal(Device.Gpus, all.Skip(1));
        Assert.All(all.Skip(1), d => Assert.True(d.IsGpu));
        // The emulator is chosen by name only: never listed, never "best".
        Assert.DoesNotContain(all, d => d.Kind == DeviceKind.GpuEmulator);
    }

    [Fact]
    public void ToStringNamesTheDevice()
    {
        string cpu = Device.Cpu.ToString();
        Assert.Matches(new Regex(@"^cpu \((AVX-512|AVX2|scalar), \d+ cores\)$"), cpu);
        Assert.Contains($", {Environment.ProcessorCount} cores)", cpu, StringComparison.Ordinal);
        var emulator = Device.Parse("gpu-emulator:0");
        Assert.Matches(new Regex(@"^gpu-emulator:0 \S.* \(\d+(\.\d)? GB\)$"), emulator.ToString());
        Assert.StartsWith(emulator.Id + " " + emulator.Name + " (", emulator.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AModelMovesToTheDeviceAndBack()
    {
        var model = new FashionMlp(seed: 3);
        var before = model.Parameters.Values.ToArray();
        Assert.Same(Device.Cpu, model.Device);
        Assert.Same(model, model.To(GpuTestDevice.Device));
        Assert.Same(GpuTestDevice.Device, model.Device);
        Assert.Same(model, model.To(GpuTestDevice.Device)); // already there: nothing to do
        model.To(Device.Cpu);
        Assert.Same(Device.Cpu, model.Device);
        Assert.Equal(before, model.Parameters.Values.ToArray()); // the round trip keeps the parameters bit for bit
    }
}
