using System;

namespace ModelGen;

public static partial class Ops
{
    /// <summary>x · sigmoid(x) (SiLU, also called swish), elementwise.</summary>
    public static Tensor Silu(Tensor x)
    {
        var y = Unary(x, static (s, d) => Reference.Silu<float>(s, d));
        return Tensor.Record(y, "Silu", new[] { x }, (dy, dx) => Reference.SiluBackward<float>(x.Data, dy, dx[0]));
    }

    /// <summary>x where x &gt; 0, <paramref name="slope"/> · x elsewhere, elementwise.</summary>
    public static Tensor LeakyRelu(Tensor x, double slope = 0.01)
    {
        ArgumentNullException.ThrowIfNull(x);
        float a = (float)slope;
        var y = new Tensor(x.GetShape());
        Reference.LeakyRelu<float>(x.Data, y.Data, a);
        return Tensor.Record(y, "LeakyRelu", new[] { x }, (dy, dx) => Reference.LeakyReluBackward<float>(x.Data, dy, dx[0], a));
    }

    /// <summary>The (n, c, s) view of a batch-normalized tensor: (B, F) or (B, C, H, W).</summary>
    internal static (int N, int C, int S) BatchNormView(string layer, Tensor x, int channels, int rank)
    {
        if (x.Rank != rank || x.Dim(1) != channels)
            throw new ArgumentException(
                $"{layer}: input shape {Tensor.FormatShape(x.Shape)} does not fit: expected {(rank == 2 ? $"(B, {channels})" : $"(B, {channels}, H, W)")}.", nameof(x));
        int s = 1;
        for (int i = 2; i < x.Rank; i++) s *= x.Dim(i);
        return (x.Dim(0), channels, s);
    }

    /// <summary>Eager batch normalization (training: batch statistics, and the running statistics updated in place; else running statistics).</summary>
    internal static Tensor BatchNorm(string layer, Tensor x, Tensor weight, Tensor bias, Tensor runningMean, Tensor runningVar,
        int channels, int rank, double epsilon, double momentum, bool training)
    {
        ArgumentNullException.ThrowIfNull(x);
        var (n, c, s) = BatchNormView(layer, x, channels, rank);
        float eps = (float)epsilon;
        var y = new Tensor(x.GetShape());
        if (training)
        {
            // One value per channel (a batch of one for BatchNorm1d) would give variance 0, y = bias and a shrunk running
            // variance: refused, as PyTorch and the compiled kernels do.
            Cpu.Kernels.CheckBatchStatistics((long)n * s, layer);
            var mean = new float[c];
            var invStd = new float[c];
            var variance = new float[c];
            Reference.BatchNormTrain<float>(x.Data, weight.Data, bias.Data, y.Data, mean, invStd, variance, n, c, s, eps);
            Reference.BatchNormUpdateRunning<float>(mean, variance, runningMean.Data, runningVar.Data, n * s, (float)momentum);
            return Tensor.Record(y, layer, new[] { x, weight, bias },
                (dy, dx) => Reference.BatchNormTrainBackward<float>(x.Data, weight.Data, mean, invStd, dy, dx[0], dx[1], dx[2], n, c, s));
        }
        var rm = runningMean.ToArray();
        var rv = runningVar.ToArray();
        Reference.BatchNormInfer<float>(x.Data, weight.Data, bias.Data, rm, rv, y.Data, n, c, s, eps);
        return Tensor.Record(y, layer, new[] { x, weight, bias },
            (dy, dx) => Reference.BatchNormInferBackward<float>(x.Data, weight.Data, rm, rv, dy, dx[0], dx[1], dx[2], n, c, s, eps));
    }

    /// <summary>Eager inverted dropout with the mask of (seed, salt, step); identity when not training.</summary>
    internal static Tensor Dropout(Tensor x, double p, bool training, ulong seed, ulong salt, long step)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!training || p == 0) return x;
        var mask = new float[x.Length];
        Reference.DropoutMask<float>(mask, p, seed, salt, step);
        var y = new Tensor(x.GetShape());
        Reference.ApplyMask<float>(x.Data, mask, y.Data);
        return Tensor.Record(y, "Dropout", new[] { x }, (dy, dx) => Reference.ApplyMask<float>(dy, mask, dx[0]));
    }
}
