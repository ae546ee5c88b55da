using System;
using ModelGen.Cpu;
using CpuKernels = ModelGen.Cpu.Kernels;
using Xunit;
using static ModelGen.Gpu.Tests.GpuTestDevice;

namespace ModelGen.Gpu.Tests;

/// <summary>The embedding and attention kernels of <see cref="GpuKernels"/> against their CPU twins.</summary>
public class AttentionKernelTests
{
    [Theory]
    [InlineData(1, 11, 1)]
    [InlineData(17, 11, 6)]
    [InlineData(5, 3, 33)]
    [InlineData(300, 7, 12)]
    public void Embedding_and_its_scattered_gradient_match_the_cpu(int rows, int count, int dim)
    {
        var r = new Random(rows + count + dim);
        var ids = new float[rows];
        for (int i = 0; i < rows; i++) ids[i] = r.Next(count); // repeats: the gradient adds rows
        var weight = Random(count * dim, 51);
        var dy = Random(rows * dim, 52);
        var y = new float[rows * dim];
        CpuKernels.Embedding(ids, weight, y, count, dim);
        var dWeight = new float[count * dim];
        CpuKernels.EmbeddingBackward(ids, dy, dWeight, count, dim);

        using var gids = Upload(ids);
        using var gw = Upload(weight);
        using var gdy = Upload(dy);
        using var gy = Zeros(rows * dim);
        using var gdw = Upload(Random(count * dim, 53)); // cleared first, as on the CPU
        GpuKernels.Embedding(GpuTestDevice.Device, gids.View, gw.View, gy.View, count, dim);
        GpuKernels.EmbeddingBackward(GpuTestDevice.Device, gids.View, gdy.View, gdw.View, count, dim);

        Assert.Equal(y, Download(gy.View, rows * dim));
        Close(dWeight, Download(gdw.View, count * dim), 1e-5f, 1e-5f, "dWeight");
    }

    [Fact]
    public void Embedding_marks_an_invalid_id_with_nan_and_its_gradient_skips_it()
    {
        int count = 4, dim = 3;
        var ids = new float[] { 1f, 4f, 2.5f, -1f, 3f };
        var weight = Random(count * dim, 54);
        using var gids = Upload(ids);
        using var gw = Upload(weight);
        using var gy = Zeros(ids.Length * dim);
        GpuKernels.Embedding(GpuTestDevice.Device, gids.View, gw.View, gy.View, count, dim);
        var y = Download(gy.View, ids.Length * dim);
        for (int j = 0; j < dim; j++)
        {
            Assert.Equal(weight[1 * dim + j], y[j]);
            Assert.True(float.IsNaN(y[dim + j]) && float.IsNaN(y[2 * dim + j]) && float.IsNaN(y[3 * dim + j]));
            Assert.Equal(weight[3 * dim + j], y[4 * dim + j]);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuKernels.Embedding(ids, weight, new float[ids.Length * dim], count, dim));

        using var gdy = Upload(Random(ids.Length * dim, 55));
        using var gdw = Zeros(count * dim);
        GpuKernels.EmbeddingBackward(GpuTestDevice.Device, gids.View, gdy.View, gdw.View, count, dim);
        var dy = Download(gdy.View, ids.Length * dim);
        var dw = Download(gdw.View, count * dim);
        for (int j = 0; j < dim; j++)
        {
            Assert.Equal(0f, dw[0 * dim + j]);
            Assert.Equal(dy[j], dw[1 * dim + j]);
            Assert.Equal(0f, dw[2 * dim + j]);
            Assert.Equal(dy[4 * dim + j], dw[3 * dim + j]);
        }
    }

    public static TheoryData<int, int, int, int, bool> AttentionShapes
    {
        get
        {
            var data = new TheoryData<int, int, int, int, bool>();
            foreach (bool causal in new[] { false, true })
            {
                // (batch, time, dim, heads)
                data.Add(1, 1, 6, 2, causal);
                data.Add(3, 5, 6, 3, causal);
                data.Add(1, 17, 12, 4, causal);
                data.Add(3, 1, 12, 4, causal);
                // head width 48: two column passes of 32
                data.Add(2, 9, 96, 2, causal);
            }
            data.Add(3, 17, 6, 2, true);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(AttentionShapes))]
    public void Attention_forward_and_backward_match_the_cpu(int batch, int time, int dim, int heads, bool causal) =>
        CompareAttention(batch, time, dim, heads, causal);

    [Fact]
    public void Attention_rows_longer_than_a_group_match_the_cpu()
    {
        // more keys than the row kernels have threads (256 on a GPU, 16 on ILGPU's CPU accelerator)
        int threads = Math.Min(256, GpuTestDevice.Device.Accelerator.MaxNumThreadsPerGroup);
        CompareAttention(1, 2 * threads + 3, 4, 1, false);
        CompareAttention(1, 2 * threads + 3, 4, 1, true);
    }

    static void CompareAttention(int batch, int time, int dim, int heads, bool causal)
    {
        int seq = batch * time * dim, tt = batch * heads * time * time;
        // scores of a few units, so that the softmax is not flat and the maximum matters
        var q = Random(seq, 61, -2f, 2f);
        var k = Random(seq, 62, -2f, 2f);
        var v = Random(seq, 63);
        var dy = Random(seq, 64);

        var y = new float[seq];
        var p = new float[tt];
        CpuKernels.Attention(q, k, v, y, p, batch, time, dim, heads, causal);
        var ds = new float[tt];
        CpuKernels.AttentionBackwardScores(p, v, dy, ds, batch, time, dim, heads);
        var dq = new float[seq];
        var dk = new float[seq];
        var dv = new float[seq];
        CpuKernels.AttentionBackwardQuery(ds, k, dq, batch, time, dim, heads);
        CpuKernels.AttentionBackwardKey(ds, q, dk, batch, time, dim, heads);
        CpuKernels.AttentionBackwardValue(p, dy, dv, batch, time, dim, heads);

        using var gq = Upload(q);
        using var gk = Upload(k);
        using var gv = Upload(v);
        using var gdy = Upload(dy);
        using var gy = Zeros(seq);
        using var gp = Upload(Random(tt, 65)); // every element is written, the masked ones with zero
        using var gds = Upload(Random(tt, 66));
        using var gdq = Upload(Random(seq, 67));
        using var gdk = Upload(Random(seq, 68));
        using var gdv = Upload(Random(seq, 69));
        var device = GpuTestDevice.Device;
        GpuKernels.Attention(device, gq.View, gk.View, gv.View, gy.View, gp.View, batch, time, dim, heads, causal);
        GpuKernels.AttentionBackwardScores(device, gp.View, gv.View, gdy.View, gds.View, batch, time, dim, heads);
        GpuKernels.AttentionBackwardQuery(device, gds.View, gk.View, gdq.View, batch, time, dim, heads);
        GpuKernels.AttentionBackwardKey(device, gds.View, gq.View, gdk.View, batch, time, dim, heads);
        GpuKernels.AttentionBackwardValue(device, gp.View, gdy.View, gdv.View, batch, time, dim, heads);

        var gpuP = Download(gp.View, tt);
        Close(p, gpuP, 1e-6f, 1e-4f, "probabilities");
        if (causal)
            for (int i = 0; i < tt; i++)
                if (i % time > i / time % time) Assert.Equal(0f, gpuP[i]);
        Close(y, Download(gy.View, seq), 1e-5f, 1e-4f, "y");
        Close(ds, Download(gds.View, tt), 1e-6f, 1e-4f, "dScores");
        Close(dq, Download(gdq.View, seq), 1e-5f, 1e-4f, "dq");
        Close(dk, Download(gdk.View, seq), 1e-5f, 1e-4f, "dk");
        Close(dv, Download(gdv.View, seq), 1e-5f, 1e-4f, "dv");
    }

    [Fact]
    public void Attention_rejects_a_width_that_is_not_a_multiple_of_the_heads_and_short_views()
    {
        using var b = Zeros(64);
        Assert.Throws<ArgumentException>(() => GpuKernels.Attention(GpuTestDevice.Device, b.View, b.View, b.View, b.View, b.View, 1, 2, 7, 2, false));
        using var small = Zeros(17);
        Assert.Throws<ArgumentException>(() => GpuKernels.AttentionBackwardKey(GpuTestDevice.Device, b.View, b.View, small.View, 1, 3, 6, 2));
    }
}
