using System;
using ILGPU;
using ILGPU.Runtime;
using Xunit;
using CpuK = ModelGen.Cpu.Kernels;
using static ModelGen.Gpu.Tests.GpuTestDevice;

namespace ModelGen.Gpu.Tests;

/// <summary>
/// The GPU losses (softmax / label-smoothed / per-position cross-entropy, MSE, L1, Huber, BCE with logits) and their
/// gradients against the CPU kernels, comparing the loss, the probabilities the backward reads and the gradients.
/// Tolerances: losses 1e-6 + 1e-5·|expected| (the GPU sums in float trees, the CPU in double); probabilities and
/// gradients 1e-6 + 1e-5·|expected|.
/// </summary>
public class LossKernelTests
{
    static GpuDevice Dev => GpuTestDevice.Device;

    const float LossAtol = 1e-6f, LossRtol = 1e-5f;

    /// <summary>dLoss as the generated code passes it: a device value (0.35) times a factor (2).</summary>
    const float DLossValue = 0.35f, DLossFactor = 2f, DLoss = DLossValue * DLossFactor;

    static float Loss(Action<ArrayView<float>> run)
    {
        using var r = Upload(new[] { 123f }); // overwritten
        run(r.View);
        return Download(r.View, 1)[0];
    }

    static float[] Gpu(int length, Action<ArrayView<float>> run)
    {
        using var y = Upload(Random(length, 99)); // overwritten
        run(y.View);
        return Download(y.View, length);
    }

    static int[] Labels(int rows, int classes, int seed)
    {
        var r = new Random(seed);
        var labels = new int[rows];
        for (int i = 0; i < rows; i++) labels[i] = r.Next(classes);
        return labels;
    }

    public static TheoryData<int, int> RowShapes => new()
    {
        { 1, 1 }, { 1, 10 }, { 3, 3 }, { 3, 1 }, { 17, 10 }, { 17, 33 }, { 257, 3 }, { 257, 10 }, { 40, 300 },
    };

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void SoftmaxCrossEntropy_and_its_backward_match_the_cpu(int rows, int classes)
    {
        int n = rows * classes;
        var logits = Random(n, n + 1, -6f, 6f);
        var labels = Labels(rows, classes, n);
        var p = new float[n];
        float loss = CpuK.SoftmaxCrossEntropy(logits, labels, rows, classes, p);
        var d = new float[n];
        CpuK.SoftmaxCrossEntropyBackward(p, labels, rows, classes, DLoss, d);

        using var gx = Upload(logits);
        using var gl = Upload(labels);
        using var gp = Zeros(n);
        using var scalar = Upload(new[] { DLossValue });
        Close(new[] { loss }, new[] { Loss(r => GpuKernels.SoftmaxCrossEntropy(Dev, gx.View, gl.View, rows, classes, gp.View, r)) }, LossAtol, LossRtol, "loss");
        Close(p, Download(gp.View, n), 1e-6f, 1e-5f, "probabilities");
        Close(d, Gpu(n, v => GpuKernels.SoftmaxCrossEntropyBackward(Dev, gp.View, gl.View, rows, classes, new DeviceScalar(scalar.View, DLossFactor), v)), 1e-6f, 1e-5f, "dLogits");
        // In place (dLogits = probabilities) with a constant dLoss.
        CpuK.SoftmaxCrossEntropyBackward(p, labels, rows, classes, 1f, d);
        GpuKernels.SoftmaxCrossEntropyBackward(Dev, gp.View, gl.View, rows, classes, 1f, gp.View);
        Close(d, Download(gp.View, n), 1e-6f, 1e-5f, "dLogits in place");
    }

    [Fact]
    public void A_label_outside_the_classes_makes_the_loss_and_its_row_of_gradients_NaN()
    {
        const int rows = 3, classes = 4;
        using var gx = Upload(Random(rows * classes, 1));
        using var gl = Upload(new[] { 1, 4, 0 });
        using var gp = Zeros(rows * classes);
        Assert.True(float.IsNaN(Loss(r => GpuKernels.SoftmaxCrossEntropy(Dev, gx.View, gl.View, rows, classes, gp.View, r))));
        Assert.True(float.IsNaN(Loss(r => GpuKernels.CrossEntropy(Dev, gx.View, gl.View, rows, classes, 0.1f, gp.View, r))));
        var d = Gpu(rows * classes, v => GpuKernels.SoftmaxCrossEntropyBackward(Dev, gp.View, gl.View, rows, classes, 1f, v));
        for (int i = 0; i < d.Length; i++) Assert.Equal(i / classes == 1, float.IsNaN(d[i]));
    }

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void CrossEntropy_with_label_smoothing_and_its_backward_match_the_cpu(int rows, int classes)
    {
        int n = rows * classes;
        var logits = Random(n, n + 2, -6f, 6f);
        var labels = Labels(rows, classes, n + 1);
        using var gx = Upload(logits);
        using var gl = Upload(labels);
        using var scalar = Upload(new[] { DLossValue });
        foreach (float smoothing in new[] { 0f, 0.1f })
        {
            var p = new float[n];
            float loss = CpuK.CrossEntropy(logits, labels, rows, classes, smoothing, p);
            var d = new float[n];
            CpuK.CrossEntropyBackward(p, labels, rows, classes, smoothing, DLoss, d);
            using var gp = Zeros(n);
            Close(new[] { loss }, new[] { Loss(r => GpuKernels.CrossEntropy(Dev, gx.View, gl.View, rows, classes, smoothing, gp.View, r)) }, LossAtol, LossRtol, $"loss ε={smoothing}");
            Close(p, Download(gp.View, n), 1e-6f, 1e-5f, $"probabilities ε={smoothing}");
            Close(d, Gpu(n, v => GpuKernels.CrossEntropyBackward(Dev, gp.View, gl.View, rows, classes, smoothing, new DeviceScalar(scalar.View, DLossFactor), v)), 1e-6f, 1e-5f, $"dLogits ε={smoothing}");
        }
    }

    [Theory]
    [MemberData(nameof(RowShapes))]
    public void SequenceCrossEntropy_and_its_backward_match_the_cpu_for_class_ids_and_distributions(int rows, int classes)
    {
        int n = rows * classes;
        var logits = Random(n, n + 3, -6f, 6f);
        var ids = Labels(rows, classes, n + 2);
        var oneHot = new float[n];
        for (int r = 0; r < rows; r++) oneHot[r * classes + ids[r]] = 1f;
        // A soft distribution with some zeros (skipped by the loss), rows not summing to one.
        var soft = Random(n, n + 4, -0.5f, 1f);
        for (int i = 0; i < n; i++) soft[i] = Math.Max(soft[i], 0f);
        using var gx = Upload(logits);
        using var scalar = Upload(new[] { DLossValue });
        foreach (var (targets, what) in new[] { (oneHot, "one-hot"), (soft, "soft") })
        {
            var p = new float[n];
            float loss = CpuK.SequenceCrossEntropy(logits, targets, p, rows, classes);
            var d = new float[n];
            CpuK.SequenceCrossEntropyBackward(p, targets, DLoss, d, rows, classes);
            using var gt = Upload(targets);
            using var gp = Zeros(n);
            Close(new[] { loss }, new[] { Loss(r => GpuKernels.SequenceCrossEntropy(Dev, gx.View, gt.View, gp.View, rows, classes, r)) }, LossAtol, LossRtol, $"loss {what}");
            Close(p, Download(gp.View, n), 1e-6f, 1e-5f, $"probabilities {what}");
            Close(d, Gpu(n, v => GpuKernels.SequenceCrossEntropyBackward(Dev, gp.View, gt.View, new DeviceScalar(scalar.View, DLossFactor), v, rows, classes)), 1e-6f, 1e-5f, $"dLogits {what}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    [InlineData(257)]
    [InlineData(5003)]
    public void Pointwise_losses_and_their_gradients_match_the_cpu(int n)
    {
        var a = Random(n, n + 5, -3f, 3f);
        var b = Random(n, n + 6, -3f, 3f);
        var probs = Random(n, n + 7, 0f, 1f);
        if (n > 2) b[1] = a[1]; // p = t: the L1 gradient is 0 there
        using var ga = Upload(a);
        using var gb = Upload(b);
        using var gprobs = Upload(probs);
        using var scalar = Upload(new[] { DLossValue });
        var dLoss = new DeviceScalar(scalar.View, DLossFactor);
        var d = new float[n];
        var d2 = new float[n];

        Close(new[] { CpuK.MeanSquaredError(a, b) }, new[] { Loss(r => GpuKernels.MeanSquaredError(Dev, ga.View, gb.View, r)) }, LossAtol, LossRtol, "mse");
        CpuK.MeanSquaredErrorBackward(a, b, DLoss, d);
        Close(d, Gpu(n, v => GpuKernels.MeanSquaredErrorBackward(Dev, ga.View, gb.View, dLoss, v)), 1e-6f, 1e-5f, "mse backward");

        Close(new[] { CpuK.L1Loss(a, b) }, new[] { Loss(r => GpuKernels.L1Loss(Dev, ga.View, gb.View, r)) }, LossAtol, LossRtol, "l1");
        CpuK.L1LossBackward(a, b, DLoss, d);
        Close(d, Gpu(n, v => GpuKernels.L1LossBackward(Dev, ga.View, gb.View, dLoss, v)), 1e-6f, 1e-5f, "l1 backward");

        Close(new[] { CpuK.HuberLoss(a, b, 0.75f) }, new[] { Loss(r => GpuKernels.HuberLoss(Dev, ga.View, gb.View, 0.75f, r)) }, LossAtol, LossRtol, "huber");
        CpuK.HuberLossBackward(a, b, 0.75f, DLoss, d);
        Close(d, Gpu(n, v => GpuKernels.HuberLossBackward(Dev, ga.View, gb.View, 0.75f, dLoss, v)), 1e-6f, 1e-5f, "huber backward");

        Close(new[] { CpuK.BinaryCrossEntropyWithLogits(a, probs) }, new[] { Loss(r => GpuKernels.BinaryCrossEntropyWithLogits(Dev, ga.View, gprobs.View, r)) }, LossAtol, LossRtol, "bce");
        CpuK.BinaryCrossEntropyWithLogitsBackward(a, probs, DLoss, d, d2);
        using var gd = Zeros(n);
        using var gd2 = Zeros(n);
        GpuKernels.BinaryCrossEntropyWithLogitsBackward(Dev, ga.View, gprobs.View, dLoss, gd.View, gd2.View);
        Close(d, Download(gd.View, n), 1e-6f, 1e-5f, "bce dLogits");
        Close(d2, Download(gd2.View, n), 1e-6f, 1e-5f, "bce dTargets");
        // Either output may be absent.
        Close(d, Gpu(n, v => GpuKernels.BinaryCrossEntropyWithLogitsBackward(Dev, ga.View, gprobs.View, dLoss, v, default)), 1e-6f, 1e-5f, "bce dLogits alone");
        Close(d2, Gpu(n, v => GpuKernels.BinaryCrossEntropyWithLogitsBackward(Dev, ga.View, gprobs.View, dLoss, default, v)), 1e-6f, 1e-5f, "bce dTargets alone");
    }

    [Fact]
    public void Binary_cross_entropy_stays_accurate_for_large_logits()
    {
        // Confident, right predictions: the loss is Σ log(1 + e^−|x|) with e^−|x| ≪ 1, lost by a plain float log(1 + u).
        var x = new[] { 30f, -30f, 12f, -17f, 88f, -100f };
        var t = new[] { 1f, 0f, 1f, 0f, 1f, 0f };
        using var gx = Upload(x);
        using var gt = Upload(t);
        Close(new[] { CpuK.BinaryCrossEntropyWithLogits(x, t) }, new[] { Loss(r => GpuKernels.BinaryCrossEntropyWithLogits(Dev, gx.View, gt.View, r)) }, 1e-9f, 1e-5f, "bce");
    }

    [Fact]
    public void Empty_inputs_give_the_cpu_results()
    {
        using var e = Zeros(1);
        var none = e.View.SubView(0, 0);
        Assert.Equal(0f, Loss(r => GpuKernels.L1Loss(Dev, none, none, r)));
        Assert.Equal(0f, Loss(r => GpuKernels.HuberLoss(Dev, none, none, 1f, r)));
        Assert.Equal(0f, Loss(r => GpuKernels.BinaryCrossEntropyWithLogits(Dev, none, none, r)));
        Assert.Throws<ArgumentException>(() => GpuKernels.MeanSquaredError(Dev, none, none, e.View));
        using var labels = Upload(new int[1]);
        Assert.Equal(0f, Loss(r => GpuKernels.SoftmaxCrossEntropy(Dev, none, labels.View, 0, 3, none, r)));
        Assert.Equal(0f, Loss(r => GpuKernels.CrossEntropy(Dev, none, labels.View, 0, 3, 0.1f, none, r)));
        Assert.True(float.IsNaN(Loss(r => GpuKernels.SequenceCrossEntropy(Dev, none, none, none, 0, 3, r))));
        Assert.True(float.IsNaN(CpuK.SequenceCrossEntropy(ReadOnlySpan<float>.Empty, ReadOnlySpan<float>.Empty, Span<float>.Empty, 0, 3)));
    }

    [Fact]
    public void Lengths_are_checked_on_the_host()
    {
        using var b = Zeros(12);
        using var labels = Upload(new int[3]);
        Assert.Throws<ArgumentException>(() => GpuKernels.MeanSquaredError(Dev, b.View, b.View.SubView(0, 11), b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.SoftmaxCrossEntropy(Dev, b.View.SubView(0, 11), labels.View, 3, 4, b.View, b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.SoftmaxCrossEntropy(Dev, b.View, labels.View.SubView(0, 2), 3, 4, b.View, b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.CrossEntropy(Dev, b.View, labels.View, 3, 4, 0f, b.View.SubView(0, 5), b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.SequenceCrossEntropy(Dev, b.View, b.View.SubView(0, 8), b.View, 3, 4, b.View));
        Assert.Throws<ArgumentException>(() => GpuKernels.L1LossBackward(Dev, b.View, b.View, 1f, b.View.SubView(0, 4)));
    }
}
