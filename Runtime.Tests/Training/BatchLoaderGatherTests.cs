using System;
using ModelGen.Cpu;
using ModelGen.Runtime.Tests.Cpu;
using Xunit;

namespace ModelGen.Runtime.Tests.Training;

/// <summary>
/// Large batches are gathered on the worker pool: every batch, the remainder included, holds exactly the rows, labels
/// and targets of the epoch's order, whatever the thread count.
/// </summary>
[Collection(CpuSettingsCollection.Name)]
public sealed class BatchLoaderGatherTests
{
    static Dataset Data(int count, int length, bool regression)
    {
        var rng = new Random(count + length);
        var x = new float[count * length];
        for (int i = 0; i < x.Length; i++) x[i] = rng.NextSingle();
        if (regression)
        {
            var t = new float[count * 3];
            for (int i = 0; i < t.Length; i++) t[i] = rng.NextSingle();
            return new Dataset(x, new[] { length }, t, new[] { 3 });
        }
        var y = new int[count];
        for (int i = 0; i < y.Length; i++) y[i] = rng.Next(7);
        return new Dataset(x, new[] { length }, y, 7);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(2, true)]
    public void Every_batch_holds_the_rows_of_the_order(int threads, bool regression)
    {
        // 300 samples of 784 floats in batches of 67: 4 full batches (above the parallel threshold, not a multiple of
        // the rows per work item) and a remainder of 32.
        var data = Data(300, 784, regression);
        int saved = CpuFeatures.Threads;
        try
        {
            CpuFeatures.Threads = threads;
            var loader = new BatchLoader(data, 67, seed: 3);
            for (int epoch = 0; epoch < 2; epoch++)
            {
                loader.StartEpoch(epoch);
                int[] order = loader.Order.ToArray();
                int seen = 0;
                for (int b = 0; b < loader.BatchCount; b++)
                {
                    int n = loader.Load(b);
                    Assert.Equal(b < 4 ? 67 : 32, n);
                    Assert.Equal(n, loader.Current);
                    Assert.Equal(n * 784, loader.Input.Length);
                    for (int r = 0; r < n; r++)
                    {
                        int s = order[b * 67 + r];
                        Assert.True(data.Sample(s).SequenceEqual(loader.Input.Slice(r * 784, 784)), $"batch {b} row {r}");
                        if (regression)
                            Assert.True(data.Targets.AsSpan(s * 3, 3).SequenceEqual(loader.Targets.Slice(r * 3, 3)));
                        else
                            Assert.Equal(data.Labels![s], loader.Labels[r]);
                    }
                    seen += n;
                }
                Assert.Equal(300, seen);
            }
        }
        finally
        {
            CpuFeatures.Threads = saved;
        }
    }
}
