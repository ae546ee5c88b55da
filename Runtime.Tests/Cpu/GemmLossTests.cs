using System;
using ModelGen.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Cpu;

/// <summary>
/// The few-class softmax cross-entropy (a classifier's loss, next to its output layer's products) on batches longer
/// than the 64 rows whose sums it multiplies before one logarithm, against a double-precision reference.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class GemmLossTests
{
    [Theory]
    [InlineData(64, 10)]
    [InlineData(130, 10)]
    [InlineData(200, 16)]
    [InlineData(65, 2)]
    public void FewClassSoftmaxCrossEntropyMatchesReference(int rows, int classes)
    {
        foreach (SimdLevel level in CpuTestSupport.AllLevels)
        {
            using var _ = CpuTestSupport.Force(level);
            var rng = new Random(rows * 100 + classes);
            float[] logits = CpuTestSupport.Random(rng, rows * classes, 20f);
            logits[3] = -300f;
            var labels = new int[rows];
            for (int r = 0; r < rows; r++)
                labels[r] = rng.Next(classes);
            var p = new float[rows * classes + 3];
            Array.Fill(p, 7f);
            float loss = Kernels.SoftmaxCrossEntropy(logits, labels, rows, classes, p.AsSpan(0, rows * classes));
            double want = 0;
            for (int r = 0; r < rows; r++)
            {
                double max = double.NegativeInfinity, sum = 0;
                for (int c = 0; c < classes; c++)
                    max = Math.Max(max, logits[r * classes + c]);
                for (int c = 0; c < classes; c++)
                    sum += Math.Exp(logits[r * classes + c] - max);
                for (int c = 0; c < classes; c++)
                {
                    double pc = Math.Exp(logits[r * classes + c] - max) / sum;
                    Assert.True(Math.Abs(p[r * classes + c] - pc) <= 1e-6 * pc + 1e-7, $"{level} p[{r},{c}] = {p[r * classes + c]}, expected {pc}");
                }
                want += Math.Log(sum) - (logits[r * classes + labels[r]] - max);
            }
            want /= rows;
            Assert.True(Math.Abs(loss - want) <= 1e-5 * Math.Abs(want) + 1e-5, $"{level} loss {loss}, expected {want}");
            Assert.Equal(new[] { 7f, 7f, 7f }, p[(rows * classes)..]);
        }
    }
}
