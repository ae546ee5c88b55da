using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// <see cref="GpuOptimizer"/> against the CPU optimizers: the same store, the same gradients, three steps on each, then
/// the values, the (clipped in place) gradients, the downloaded state buffers, the step count and the gradient norm are
/// compared. Tolerance: 1e-6 relative (plus 1e-9 absolute for state near zero); the only difference in arithmetic is the
/// order in which the gradient norm's squares are summed (in double on both).
/// </summary>
public class GpuOptimizerTests
{
    static GpuDevice Device => GpuTestDevice.Device;

    // 35 + 7 + 20200 trained floats with padding between them (the arena's layout), and a non-trained tail: the
    // norm spans many groups (and, on the emulator, more than the first pass's grid, so its grid-stride loop runs).
    static ParameterStore Store() => new(new[]
    {
        new ParameterInfo("a.weight", new[] { 5, 7 }, 0, Init.HeUniform),
        new ParameterInfo("a.bias", new[] { 7 }, 48, Init.HeUniform),
        new ParameterInfo("b.weight", new[] { 200, 101 }, 64, Init.HeUniform),
    }, 3);

    static void FillGradients(ParameterStore s, int step)
    {
        var g = s.Gradients;
        g.Clear();
        foreach (var p in s)
            for (int i = 0; i < p.Info.Length; i++)
                p.Gradient.Data[i] = (float)Math.Sin(0.37 * i + 1.3 * step + p.Info.Offset);
    }

    public static IEnumerable<object[]> Optimizers()
    {
        string[] names =
        {
            "sgd", "sgd-momentum", "sgd-nesterov", "sgd-decay", "sgd-momentum-decay", "adam", "adam-decay", "adamw",
            "rmsprop", "rmsprop-momentum", "rmsprop-centered", "rmsprop-centered-momentum-decay",
        };
        foreach (string name in names)
        foreach (float clip in new[] { 0f, 0.5f, 1e4f })
            yield return new object[] { name, clip };
    }

    static Optimizer Make(string name) => name switch
    {
        "sgd" => new Sgd(0.05f),
        "sgd-momentum" => new Sgd(0.05f, momentum: 0.9f),
        "sgd-nesterov" => new Sgd(0.05f, momentum: 0.9f, nesterov: true),
        "sgd-decay" => new Sgd(0.05f, weightDecay: 0.1f),
        "sgd-momentum-decay" => new Sgd(0.05f, momentum: 0.8f, nesterov: true, weightDecay: 0.05f),
        "adam" => new Adam(0.01f),
        "adam-decay" => new Adam(0.01f, weightDecay: 0.1f),
        "adamw" => new AdamW(0.01f, weightDecay: 0.1f),
        "rmsprop" => new RMSprop(0.01f),
        "rmsprop-momentum" => new RMSprop(0.01f, momentum: 0.9f),
        "rmsprop-centered" => new RMSprop(0.01f, centered: true),
        "rmsprop-centered-momentum-decay" => new RMSprop(0.01f, weightDecay: 0.1f, momentum: 0.5f, centered: true),
        _ => throw new ArgumentException(name),
    };

    static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what) =>
        GpuTestDevice.Close(expected, actual, atol: 1e-9f, rtol: 1e-6f, what: what);

    static void CopyTo(MemoryBuffer1D<float, Stride1D.Dense> buffer, ReadOnlySpan<float> values)
    {
        buffer.View.SubView(0, values.Length).CopyFromCPU(Device.Stream, values.ToArray());
        Device.Synchronize();
    }

    /// <summary><see cref="Make"/>'s optimizers with double literals (<c>0.05</c> for <c>0.05f</c>), clipping and a schedule on each.</summary>
    static (Optimizer Double, Optimizer Float) MakePair(string name) => name switch
    {
        "sgd" => (new Sgd(0.05, momentum: 0.8, nesterov: true, weightDecay: 0.05) { ClipGradientNorm = 0.5, Schedule = new StepDecay(2, 0.3) },
                  new Sgd(0.05f, momentum: 0.8f, nesterov: true, weightDecay: 0.05f) { ClipGradientNorm = 0.5f, Schedule = new StepDecay(2, 0.3f) }),
        "adam" => (new Adam(0.01, 0.8, 0.99, 1e-7, 0.1) { ClipGradientNorm = 0.5, Schedule = new ExponentialDecay(0.9) },
                   new Adam(0.01f, 0.8f, 0.99f, 1e-7f, 0.1f) { ClipGradientNorm = 0.5f, Schedule = new ExponentialDecay(0.9f) }),
        "adamw" => (new AdamW(1e-3, weightDecay: 0.1) { ClipGradientNorm = 0.5, Schedule = new CosineDecay(3, 0.1) },
                    new AdamW(1e-3f, weightDecay: 0.1f) { ClipGradientNorm = 0.5f, Schedule = new CosineDecay(3, 0.1f) }),
        _ => (new RMSprop(0.01, alpha: 0.9, epsilon: 1e-6, weightDecay: 0.1, momentum: 0.5, centered: true) { ClipGradientNorm = 0.5 },
              new RMSprop(0.01f, alpha: 0.9f, epsilon: 1e-6f, weightDecay: 0.1f, momentum: 0.5f, centered: true) { ClipGradientNorm = 0.5f }),
    };

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("rmsprop")]
    public void Double_and_float_hyperparameters_give_the_same_bits_on_the_device(string name)
    {
        var (d, f) = MakePair(name);
        var store = Store();
        int n = store.TrainableLength;
        var initial = store.TrainableValues.ToArray();
        float[] Run(Optimizer optimizer)
        {
            using var values = GpuTestDevice.Upload(initial);
            using var gradients = GpuTestDevice.Upload(new float[n]);
            using var gpu = new GpuOptimizer(Device, optimizer, n);
            for (int step = 0; step < 3; step++)
            {
                FillGradients(store, step);
                CopyTo(gradients, store.TrainableGradients);
                gpu.Step(values.View, gradients.View);
            }
            return GpuTestDevice.Download(values.View, n);
        }
        var withDoubles = Run(d);
        Assert.Equal(Run(f), withDoubles);
        Assert.NotEqual(initial, withDoubles);
    }

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void Three_steps_match_the_cpu_optimizer(string name, float clip)
    {
        var cpuStore = Store();
        var gpuStore = Store();
        int n = cpuStore.TrainableLength;
        var cpu = Make(name);
        var gpuOptimizer = Make(name);
        if (clip > 0)
        {
            cpu.ClipGradientNorm = clip;
            gpuOptimizer.ClipGradientNorm = clip;
        }
        // Views longer than the trained prefix: the floats past it must stay as they are.
        var tail = GpuTestDevice.Random(7, 41);
        var initial = new float[n + tail.Length];
        gpuStore.TrainableValues.CopyTo(initial);
        tail.CopyTo(initial, n);
        using var values = GpuTestDevice.Upload(initial);
        using var gradients = GpuTestDevice.Upload(new float[n + tail.Length]);
        using var gpu = new GpuOptimizer(Device, gpuOptimizer, n);
        Assert.Null(gpu.LastGradientNorm());
        for (int step = 0; step < 3; step++)
        {
            FillGradients(cpuStore, step);
            FillGradients(gpuStore, step);
            CopyTo(gradients, gpuStore.TrainableGradients);
            cpu.Step(cpuStore);
            gpu.Step(values.View, gradients.View);
            Close(cpuStore.TrainableGradients, GpuTestDevice.Download(gradients.View, n), $"{name} clip={clip} step {step} gradients");
        }
        var v = GpuTestDevice.Download(values.View, n + tail.Length);
        Close(cpuStore.TrainableValues, v.AsSpan(0, n), $"{name} clip={clip} values");
        Assert.Equal(tail, v.AsSpan(n).ToArray());
        Assert.Equal(3, cpu.StepCount);
        Assert.Equal(3, gpuOptimizer.StepCount);

        Assert.Equal(cpu.DeviceStateNames(), gpu.StateNames);
        gpu.Download();
        foreach (string state in gpu.StateNames)
        {
            var expected = cpu.DeviceStateBuffer(state);
            var actual = gpuOptimizer.DeviceStateBuffer(state);
            Assert.NotNull(expected);
            Assert.NotNull(actual);
            Close(expected, actual, $"{name} clip={clip} state {state}");
        }

        if (clip > 0)
        {
            double? norm = gpu.LastGradientNorm();
            Assert.NotNull(norm);
            Assert.True(Math.Abs(norm.Value - cpu.LastGradientNorm!.Value) <= 1e-9 * cpu.LastGradientNorm.Value, $"norm {norm} vs {cpu.LastGradientNorm}");
        }
        else Assert.Null(gpu.LastGradientNorm());
    }

    [Theory]
    [InlineData("adam")]
    [InlineData("adamw")]
    [InlineData("sgd-momentum")]
    [InlineData("rmsprop-centered-momentum-decay")]
    public void A_resumed_optimizer_continues_from_its_host_state_and_step_count(string name)
    {
        // Two identical runs take two CPU steps; then one continues on the CPU and the other on the GPU, whose state and
        // step count (bias corrections, the schedule's learning rate) come from the optimizer's host state.
        var cpuStore = Store();
        var gpuStore = Store();
        int n = cpuStore.TrainableLength;
        var cpu = Make(name);
        var resumed = Make(name);
        cpu.Schedule = new CosineDecay(10);
        resumed.Schedule = new CosineDecay(10);
        cpu.ClipGradientNorm = 2f;
        resumed.ClipGradientNorm = 2f;
        for (int step = 0; step < 2; step++)
        {
            FillGradients(cpuStore, step);
            FillGradients(gpuStore, step);
            cpu.Step(cpuStore);
            resumed.Step(gpuStore);
        }
        using var values = GpuTestDevice.Upload(gpuStore.TrainableValues.ToArray());
        using var gradients = GpuTestDevice.Zeros(n);
        using var gpu = new GpuOptimizer(Device, resumed, n);
        for (int step = 2; step < 4; step++)
        {
            FillGradients(cpuStore, step);
            FillGradients(gpuStore, step);
            CopyTo(gradients, gpuStore.TrainableGradients);
            cpu.Step(cpuStore);
            gpu.Step(values.View, gradients.View);
        }
        Assert.Equal(4, resumed.StepCount);
        Close(cpuStore.TrainableValues, GpuTestDevice.Download(values.View, n), $"{name} resumed values");
        gpu.Download();
        foreach (string state in gpu.StateNames)
            Close(cpu.DeviceStateBuffer(state)!, resumed.DeviceStateBuffer(state)!, $"{name} resumed state {state}");

        // Upload is Download's reverse: a changed host buffer reaches the device.
        string first = gpu.StateNames[0];
        var changed = GpuTestDevice.Random(n, 43);
        resumed.SetDeviceStateBuffer(first, (float[])changed.Clone());
        gpu.Upload();
        resumed.SetDeviceStateBuffer(first, new float[n]);
        gpu.Download();
        Assert.Equal(changed, resumed.DeviceStateBuffer(first));
    }

    [Fact]
    public void A_stateless_sgd_downloads_nothing_and_counts_its_steps()
    {
        var opt = new Sgd(0.1f);
        using var values = GpuTestDevice.Upload(new float[] { 1, 2, 3 });
        using var gradients = GpuTestDevice.Upload(new float[] { 1, 1, 1 });
        using var gpu = new GpuOptimizer(Device, opt, 3);
        Assert.Empty(gpu.StateNames);
        gpu.Step(values.View, gradients.View);
        gpu.Step(values.View, gradients.View);
        gpu.Download();
        Assert.Equal(2, opt.StepCount);
        GpuTestDevice.Close(new[] { 0.8f, 1.8f, 2.8f }, GpuTestDevice.Download(values.View, 3), 1e-6f, 1e-6f, "sgd values");
    }

    sealed class Custom : Optimizer
    {
        public Custom() : base(0.1f) { }

        protected override void Update(ParameterStore parameters) { }
    }

    [Fact]
    public void Unknown_optimizers_and_short_arenas_are_rejected()
    {
        var e = Assert.Throws<NotSupportedException>(() => new GpuOptimizer(Device, new Custom(), 4));
        Assert.Contains(typeof(Custom).FullName!, e.Message);
        foreach (string supported in new[] { "Sgd", "Adam", "AdamW", "RMSprop" }) Assert.Contains(supported, e.Message);

        using var gpu = new GpuOptimizer(Device, new Adam(), 8);
        using var small = GpuTestDevice.Zeros(5);
        using var big = GpuTestDevice.Zeros(8);
        Assert.Throws<ArgumentException>(() => gpu.Step(small.View, big.View));
        Assert.Throws<ArgumentException>(() => gpu.Step(big.View, small.View));
    }
}
