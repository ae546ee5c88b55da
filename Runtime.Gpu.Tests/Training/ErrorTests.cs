using System;
using System.Linq;
using FashionMnistSample;
using Xunit;

namespace ModelGen.Gpu.Tests.Training;

/// <summary>
/// Wrong inputs to a model on the GPU device are the caller's errors, reported as on the CPU (an ArgumentException that
/// names the shape or size) before anything reaches the device; the model keeps working afterwards.
/// </summary>
public sealed class ErrorTests
{
    [Fact]
    public void PredictOfAWrongShapeOnTheGpuThrowsNamingTheShape()
    {
        var model = new FashionMlp(seed: 51);
        model.To(GpuTestDevice.Device);
        try
        {
            var good = new Tensor(TrainingData.FashionBatch(TrainingData.FashionFlat, 0, 2).Input, 2, 784);
            var expected = model.Predict(good).ToArray(); // an eval program exists: the error must not disturb it

            var e = Assert.Throws<ArgumentException>(() => model.Predict(new Tensor(5, 783)));
            Assert.Contains("(5, 783)", e.Message, StringComparison.Ordinal);
            Assert.Contains("(784)", e.Message, StringComparison.Ordinal);
            Assert.Equal("input", e.ParamName);
            e = Assert.Throws<ArgumentException>(() => model.Predict(new Tensor(2, 28, 28)));
            Assert.Contains("(2, 28, 28)", e.Message, StringComparison.Ordinal);

            Assert.Equal(expected, model.Predict(good).ToArray()); // the device is fine and the same program gives the same answer
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }

    [Fact]
    public void WrongBatchesOnAGpuProgramThrowBeforeTheDevice()
    {
        var model = new FashionMlp(seed: 52);
        model.To(GpuTestDevice.Device);
        try
        {
            using var program = model.NewProgram(4);
            var optimizer = new AdamW(1e-3f);
            var (x, l) = TrainingData.FashionBatch(TrainingData.FashionFlat, 0, 4);
            var outputs = new float[40];
            // More samples than the program holds, an input of the wrong length, labels of the wrong count.
            var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => program.TrainBatch(new float[5 * 784], new int[5], default, 5, optimizer, true, new float[50], out _));
            Assert.Contains("Batch 5", e1.Message, StringComparison.Ordinal);
            var e2 = Assert.Throws<ArgumentException>(() => program.TrainBatch(x.AsSpan(0, 3 * 784 + 1), l, default, 4, optimizer, true, outputs, out _));
            Assert.Contains("2353", e2.Message, StringComparison.Ordinal);
            var e3 = Assert.Throws<ArgumentException>(() => program.TrainBatch(x, l.AsSpan(0, 3), default, 4, optimizer, true, outputs, out _));
            Assert.Contains("3 labels", e3.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => program.Infer(x, 4, new float[39]));
            Assert.Equal(0, optimizer.StepCount); // nothing stepped

            float loss = program.TrainBatch(x, l, default, 4, optimizer, true, outputs, out _);
            Assert.True(float.IsFinite(loss) && loss > 0);
        }
        finally
        {
            model.To(Device.Cpu);
        }
    }

    /// <summary>A program kept after its model moved off the device refuses to run (its device memory is gone) instead of reading freed memory.</summary>
    [Fact]
    public void AProgramKeptAfterTheModelLeftTheDeviceThrows()
    {
        var model = new FashionMlp(seed: 52);
        model.To(GpuTestDevice.Device);
        var program = model.NewProgram(4);
        model.To(Device.Cpu);
        var e = Assert.Throws<ObjectDisposedException>(() => program.Infer(new float[784], 1, new float[10]));
        Assert.Contains("has left", e.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => program.TrainStep(new float[784], new[] { 3 }, default, 1, default));
    }
}
