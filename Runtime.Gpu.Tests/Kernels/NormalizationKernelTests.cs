using System;
using ModelGen.Cpu;
using CpuKernels = ModelGen.Cpu.Kernels;
using Xunit;
using static ModelGen.Gpu.Tests.GpuTestDevice;

namespace ModelGen.Gpu.Tests;

/// <summary>The batch-norm, dropout and layer-norm kernels of <see cref="GpuKernels"/> against their CPU twins.</summary>
public class NormalizationKernelTests
{
    public static TheoryData<int, int, int> BatchNormShapes => new()
    {
        // (n, c, s): BatchNorm1d (s = 1) and BatchNorm2d (s = H·W)
        { 2, 1, 1 }, { 3, 1, 1 }, { 3, 3, 1 }, { 1, 5, 7 }, { 3, 5, 7 }, { 3, 3, 49 }, { 1, 1, 7 },
        // several column tiles (c > 32) and lanes walking many rows; channels with more values than a group has threads
        { 67, 40, 1 }, { 300, 33, 1 }, { 5, 3, 300 }, { 4, 7, 196 },
    };

    [Theory]
    [MemberData(nameof(BatchNormShapes))]
    public void BatchNorm_forward_statistics_running_update_and_gradients_match_the_cpu(int n, int c, int s)
    {
        var device = GpuTestDevice.Device;
        int total = n * c * s;
        float eps = 1e-5f, momentum = 0.1f;
        // an offset so that the mean matters, different per channel
        var x = Random(total, 1 + n + c + s, -2f, 3f);
        var weight = Random(c, 2, 0.5f, 1.5f);
        var bias = Random(c, 3);
        var dy = Random(total, 4);
        var runMean = Random(c, 5);
        var runVar = Random(c, 6, 0.5f, 2f);

        var y = new float[total];
        var stats = new float[3 * c];
        CpuKernels.BatchNormForward(x, weight, bias, y, stats, n, c, s, eps);
        var cpuMean = (float[])runMean.Clone();
        var cpuVar = (float[])runVar.Clone();
        CpuKernels.BatchNormUpdateRunning(stats, cpuMean, cpuVar, c, n * s, momentum);
        var dw = new float[c];
        var db = new float[c];
        CpuKernels.BatchNormParameterGradients(x, stats, dy, dw, db, n, c, s);
        var dx = new float[total];
        CpuKernels.BatchNormInputGradient(x, weight, stats, dy, dw, db, dx, n, c, s);
        var yInference = new float[total];
        CpuKernels.BatchNormInference(x, weight, bias, cpuMean, cpuVar, yInference, n, c, s, eps);

        using var gx = Upload(x);
        using var gw = Upload(weight);
        using var gb = Upload(bias);
        using var gdy = Upload(dy);
        using var gy = Zeros(total);
        using var gstats = Zeros(3 * c);
        using var gmean = Upload(runMean);
        using var gvar = Upload(runVar);
        using var gdw = Zeros(c);
        using var gdb = Zeros(c);
        using var gdx = Zeros(total);
        using var gyi = Zeros(total);
        GpuKernels.BatchNormForward(device, gx.View, gw.View, gb.View, gy.View, gstats.View, n, c, s, eps);
        GpuKernels.BatchNormUpdateRunning(device, gstats.View, gmean.View, gvar.View, c, n * s, momentum);
        GpuKernels.BatchNormParameterGradients(device, gx.View, gstats.View, gdy.View, gdw.View, gdb.View, n, c, s);
        GpuKernels.BatchNormInputGradient(device, gx.View, gw.View, gstats.View, gdy.View, gdw.View, gdb.View, gdx.View, n, c, s);
        GpuKernels.BatchNormInference(device, gx.View, gw.View, gb.View, gmean.View, gvar.View, gyi.View, n, c, s, eps);

        Close(stats, Download(gstats.View, 3 * c), 1e-6f, 1e-5f, "stats");
        Close(y, Download(gy.View, total), 1e-5f, 1e-5f, "y");
        Close(cpuMean, Download(gmean.View, c), 1e-6f, 1e-5f, "runningMean");
        Close(cpuVar, Download(gvar.View, c), 1e-6f, 1e-5f, "runningVar");
        Close(dw, Download(gdw.View, c), 1e-4f, 1e-5f, "dweight");
        Close(db, Download(gdb.View, c), 1e-4f, 1e-5f, "dbias");
        Close(dx, Download(gdx.View, total), 1e-5f, 1e-4f, "dx");
        Close(yInference, Download(gyi.View, total), 1e-5f, 1e-5f, "y (inference)");
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void BatchNorm_parameter_gradients_skip_an_empty_output(bool weightOnly, bool biasOnly)
    {
        int n = 3, c = 5, s = 7, total = n * c * s;
        var x = Random(total, 11);
        var dy = Random(total, 12);
        var stats = new float[3 * c];
        CpuKernels.BatchNormForward(x, Random(c, 13), Random(c, 14), new float[total], stats, n, c, s, 1e-5f);
        var dw = new float[c];
        var db = new float[c];
        CpuKernels.BatchNormParameterGradients(x, stats, dy, dw, db, n, c, s);

        using var gx = Upload(x);
        using var gstats = Upload(stats);
        using var gdy = Upload(dy);
        using var gout = Upload(new float[c]);
        GpuKernels.BatchNormParameterGradients(GpuTestDevice.Device, gx.View, gstats.View, gdy.View, weightOnly ? gout.View : default, biasOnly ? gout.View : default, n, c, s);
        Close(weightOnly ? dw : db, Download(gout.View, c), 1e-4f, 1e-5f, weightOnly ? "dweight" : "dbias");
    }

    [Fact]
    public void BatchNorm_refuses_one_value_per_channel_in_training_as_the_cpu_does()
    {
        using var x = Upload(new float[] { 1, 2 });
        using var ones = Upload(new float[] { 1, 1 });
        using var stats = Zeros(6);
        using var y = Zeros(2);
        var ex = Assert.Throws<ArgumentException>(() => GpuKernels.BatchNormForward(GpuTestDevice.Device, x.View, ones.View, ones.View, y.View, stats.View, 1, 2, 1, 1e-5f));
        Assert.Contains("more than one value per channel", ex.Message);
        using var mean = Zeros(2);
        Assert.Throws<ArgumentException>(() => GpuKernels.BatchNormUpdateRunning(GpuTestDevice.Device, stats.View, mean.View, ones.View, 2, 1, 0.1f));
        Assert.Equal(new float[] { 1, 1 }, Download(ones.View, 2));   // the running variance is untouched
    }

    [Fact]
    public void BatchNorm_rejects_short_views()
    {
        using var small = Zeros(4);
        Assert.Throws<ArgumentException>(() => GpuKernels.BatchNormForward(GpuTestDevice.Device, small.View, small.View, small.View, small.View, small.View, 3, 1, 2, 1e-5f));
    }

    [Theory]
    [InlineData(1, 0.5f, 1UL, 2UL, 0L)]
    [InlineData(7, 0.3f, 42UL, 7UL, 3L)]
    [InlineData(1000, 0.5f, 123456789UL, 0xDEADBEEFCAFEUL, 123456789012L)]
    [InlineData(4099, 0.1f, ulong.MaxValue, 99UL, -5L)]
    [InlineData(333, 0f, 5UL, 6UL, 7L)]
    [InlineData(333, 1f, 5UL, 6UL, 7L)]
    public void Dropout_draws_the_cpu_mask_exactly(int length, float p, ulong seed, ulong salt, long step)
    {
        var x = Random(length, 21);
        var dy = Random(length, 22);
        var mask = new float[length];
        var y = new float[length];
        CpuKernels.DropoutForward(x, mask, y, p, seed, salt, step);
        var dx = new float[length];
        CpuKernels.DropoutBackward(dy, mask, dx);

        using var gx = Upload(x);
        using var gdy = Upload(dy);
        using var gmask = Zeros(length);
        using var gy = Zeros(length);
        using var gdx = Zeros(length);
        GpuKernels.DropoutForward(GpuTestDevice.Device, gx.View, gmask.View, gy.View, p, seed, salt, step);
        GpuKernels.DropoutBackward(GpuTestDevice.Device, gdy.View, gmask.View, gdx.View);

        Assert.Equal(mask, Download(gmask.View, length));
        Assert.Equal(y, Download(gy.View, length));
        Assert.Equal(dx, Download(gdx.View, length));
        if (length >= 1000)
        {
            // the mask is not trivial: about p of it is dropped
            int dropped = Array.FindAll(mask, m => m == 0f).Length;
            Assert.InRange(dropped, (int)(length * p * 0.8), (int)(length * p * 1.2) + 1);
        }
    }

    [Fact]
    public void Dropout_masks_differ_between_steps_and_salts_as_on_the_cpu()
    {
        int length = 257;
        var x = Random(length, 23);
        using var gx = Upload(x);
        using var gmask = Zeros(length);
        using var gy = Zeros(length);
        foreach (var (salt, step) in new[] { (1UL, 0L), (1UL, 1L), (2UL, 0L) })
        {
            var mask = new float[length];
            CpuKernels.DropoutForward(x, mask, new float[length], 0.5f, 9UL, salt, step);
            GpuKernels.DropoutForward(GpuTestDevice.Device, gx.View, gmask.View, gy.View, 0.5f, 9UL, salt, step);
            Assert.Equal(mask, Download(gmask.View, length));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => GpuKernels.DropoutForward(GpuTestDevice.Device, gx.View, gmask.View, gy.View, 1.5f, 9UL, 1UL, 0L));
    }

    public static TheoryData<int, int> LayerNormShapes => new()
    {
        // (rows, features): rows = batch·time
        { 1, 1 }, { 3, 1 }, { 1, 7 }, { 5, 7 }, { 17, 33 }, { 15, 6 },
        // rows longer than a group, several column tiles for the weight gradient
        { 3, 300 }, { 9, 600 },
    };

    [Theory]
    [MemberData(nameof(LayerNormShapes))]
    public void LayerNorm_forward_and_backward_match_the_cpu(int rows, int features)
    {
        int total = rows * features;
        var x = Random(total, 31 + rows + features, -2f, 3f);
        var weight = Random(features, 32, 0.5f, 1.5f);
        var bias = Random(features, 33);
        var dy = Random(total, 34);
        var y = new float[total];
        var stats = new float[2 * rows];
        CpuKernels.LayerNorm(x, weight, bias, y, stats, rows, features, 1e-5f);
        var dx = new float[total];
        CpuKernels.LayerNormBackward(x, weight, stats, dy, dx, rows, features);
        var dw = new float[features];
        CpuKernels.LayerNormWeightBackward(x, stats, dy, dw, rows, features);

        using var gx = Upload(x);
        using var gw = Upload(weight);
        using var gb = Upload(bias);
        using var gdy = Upload(dy);
        using var gy = Zeros(total);
        using var gstats = Zeros(2 * rows);
        using var gdx = Zeros(total);
        using var gdw = Upload(Random(features, 35)); // overwritten, not accumulated
        GpuKernels.LayerNorm(GpuTestDevice.Device, gx.View, gw.View, gb.View, gy.View, gstats.View, rows, features, 1e-5f);
        GpuKernels.LayerNormBackward(GpuTestDevice.Device, gx.View, gw.View, gstats.View, gdy.View, gdx.View, rows, features);
        GpuKernels.LayerNormWeightBackward(GpuTestDevice.Device, gx.View, gstats.View, gdy.View, gdw.View, rows, features);

        Close(stats, Download(gstats.View, 2 * rows), 1e-6f, 1e-5f, "stats");
        Close(y, Download(gy.View, total), 1e-5f, 1e-5f, "y");
        Close(dx, Download(gdx.View, total), 1e-4f, 1e-4f, "dx");
        Close(dw, Download(gdw.View, features), 1e-4f, 1e-4f, "dWeight");
    }

    [Fact]
    public void LayerNorm_weight_gradient_of_many_rows_matches_the_cpu()
    {
        // several column tiles, each lane walking many rows
        int rows = 600, features = 40, total = rows * features;
        var x = Random(total, 46, -2f, 3f);
        var dy = Random(total, 47);
        var stats = new float[2 * rows];
        CpuKernels.LayerNorm(x, Random(features, 48), Random(features, 49), new float[total], stats, rows, features, 1e-5f);
        var dw = new float[features];
        CpuKernels.LayerNormWeightBackward(x, stats, dy, dw, rows, features);

        using var gx = Upload(x);
        using var gstats = Upload(stats);
        using var gdy = Upload(dy);
        using var gdw = Zeros(features);
        GpuKernels.LayerNormWeightBackward(GpuTestDevice.Device, gx.View, gstats.View, gdy.View, gdw.View, rows, features);
        Close(dw, Download(gdw.View, features), 1e-4f, 1e-4f, "dWeight");
    }

    [Fact]
    public void LayerNorm_weight_gradient_clears_a_longer_view_as_the_cpu()
    {
        int rows = 3, features = 5, total = rows * features;
        var x = Random(total, 41);
        var dy = Random(total, 42);
        var stats = new float[2 * rows];
        CpuKernels.LayerNorm(x, Random(features, 43), Random(features, 44), new float[total], stats, rows, features, 1e-5f);
        var dw = Random(features + 3, 45);
        CpuKernels.LayerNormWeightBackward(x, stats, dy, dw, rows, features);

        using var gx = Upload(x);
        using var gstats = Upload(stats);
        using var gdy = Upload(dy);
        using var gdw = Upload(Random(features + 3, 45));
        GpuKernels.LayerNormWeightBackward(GpuTestDevice.Device, gx.View, gstats.View, gdy.View, gdw.View, rows, features);
        Close(dw, Download(gdw.View, features + 3), 1e-5f, 1e-4f, "dWeight");
    }
}
