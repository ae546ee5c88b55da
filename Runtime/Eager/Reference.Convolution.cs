using System;
using System.Numerics;
using ModelGen.Cpu;

namespace ModelGen;

/// <summary>Geometry of a 2-D convolution or pooling window over NCHW images.</summary>
/// <param name="Batch">Images in the batch.</param>
/// <param name="Channels">Input channels.</param>
/// <param name="Height">Input height.</param>
/// <param name="Width">Input width.</param>
/// <param name="OutChannels">Output channels (equal to <paramref name="Channels"/> for pooling).</param>
/// <param name="Kernel">Window size (square).</param>
/// <param name="Stride">Step between windows.</param>
/// <param name="Padding">Implicit border on each side (zeros for convolution and average pooling, ignored by max pooling).</param>
/// <param name="Dilation">Spacing between window taps.</param>
/// <param name="Groups">Channel groups (convolution only): each output group sees Channels/Groups inputs.</param>
public readonly record struct Conv2dGeometry(int Batch, int Channels, int Height, int Width, int OutChannels, int Kernel,
    int Stride = 1, int Padding = 0, int Dilation = 1, int Groups = 1)
{
    /// <summary>Output height: (H + 2p − d(k−1) − 1)/s + 1.</summary>
    public int OutHeight => OutSize(Height, Kernel, Stride, Padding, Dilation);

    /// <summary>Output width.</summary>
    public int OutWidth => OutSize(Width, Kernel, Stride, Padding, Dilation);

    /// <summary>Input channels per group.</summary>
    public int GroupChannels => Channels / Groups;

    /// <summary>Output channels per group.</summary>
    public int GroupOutChannels => OutChannels / Groups;

    /// <summary>The output size of one spatial dimension (may be ≤ 0 when the window does not fit).</summary>
    public static int OutSize(int size, int kernel, int stride, int padding, int dilation) =>
        (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

public static partial class Reference
{
    // ---------------------------------------------------------------- convolution

    /// <summary>
    /// y[n, o, i, j] = b[o] + Σ_{c in o's group, u, v} w[o, c, u, v] · x[n, g·C/G + c, i·s − p + u·d, j·s − p + v·d]
    /// (taps outside the image read 0). x is (N, C, H, W), w (O, C/G, k, k), b (O) or empty, y (N, O, Ho, Wo).
    /// </summary>
    public static void Conv2d<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, Conv2dGeometry g)
        where T : IFloatingPointIeee754<T>
    {
        int ho = g.OutHeight, wo = g.OutWidth, cg = g.GroupChannels, og = g.GroupOutChannels, k = g.Kernel;
        for (int n = 0; n < g.Batch; n++)
        for (int o = 0; o < g.OutChannels; o++)
        {
            int group = o / og;
            for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++)
            {
                T sum = b.IsEmpty ? T.Zero : b[o];
                for (int c = 0; c < cg; c++)
                for (int u = 0; u < k; u++)
                for (int v = 0; v < k; v++)
                {
                    int r = i * g.Stride - g.Padding + u * g.Dilation, q = j * g.Stride - g.Padding + v * g.Dilation;
                    if (r < 0 || r >= g.Height || q < 0 || q >= g.Width) continue;
                    sum += w[((o * cg + c) * k + u) * k + v] * x[((n * g.Channels + group * cg + c) * g.Height + r) * g.Width + q];
                }
                y[((n * g.OutChannels + o) * ho + i) * wo + j] = sum;
            }
        }
    }

    /// <summary>The vector-Jacobian product of <see cref="Conv2d{T}"/>: dx, dw, db (each skipped when empty; overwritten).</summary>
    public static void Conv2dBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dw, Span<T> db, Conv2dGeometry g)
        where T : IFloatingPointIeee754<T>
    {
        int ho = g.OutHeight, wo = g.OutWidth, cg = g.GroupChannels, og = g.GroupOutChannels, k = g.Kernel;
        dx.Clear();
        dw.Clear();
        db.Clear();
        for (int n = 0; n < g.Batch; n++)
        for (int o = 0; o < g.OutChannels; o++)
        {
            int group = o / og;
            for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++)
            {
                T d = dy[((n * g.OutChannels + o) * ho + i) * wo + j];
                if (!db.IsEmpty) db[o] += d;
                for (int c = 0; c < cg; c++)
                for (int u = 0; u < k; u++)
                for (int v = 0; v < k; v++)
                {
                    int r = i * g.Stride - g.Padding + u * g.Dilation, q = j * g.Stride - g.Padding + v * g.Dilation;
                    if (r < 0 || r >= g.Height || q < 0 || q >= g.Width) continue;
                    int xi = ((n * g.Channels + group * cg + c) * g.Height + r) * g.Width + q, wi = ((o * cg + c) * k + u) * k + v;
                    if (!dw.IsEmpty) dw[wi] += d * x[xi];
                    if (!dx.IsEmpty) dx[xi] += d * w[wi];
                }
            }
        }
    }

    // ---------------------------------------------------------------- pooling

    /// <summary>
    /// Max pooling of each (H, W) plane of x (planes = N·C): y[p, i, j] = max over the window's taps inside the image
    /// (padding is ignored, never a value). Ties go to the first tap in row-major window order.
    /// </summary>
    public static void MaxPool2d<T>(ReadOnlySpan<T> x, Span<T> y, int planes, int height, int width, int kernel, int stride, int padding)
        where T : IFloatingPointIeee754<T>
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            int at = MaxTap(x.Slice(p * height * width, height * width), height, width, kernel, i * stride - padding, j * stride - padding);
            y[(p * ho + i) * wo + j] = at < 0 ? T.Zero : x[p * height * width + at];
        }
    }

    /// <summary>The gradient of <see cref="MaxPool2d{T}"/>: each output's gradient goes to the input tap that was its maximum.</summary>
    public static void MaxPool2dBackward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, Span<T> dx, int planes, int height, int width, int kernel, int stride, int padding)
        where T : IFloatingPointIeee754<T>
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        dx.Clear();
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            int at = MaxTap(x.Slice(p * height * width, height * width), height, width, kernel, i * stride - padding, j * stride - padding);
            if (at >= 0) dx[p * height * width + at] += dy[(p * ho + i) * wo + j];
        }
    }

    static int MaxTap<T>(ReadOnlySpan<T> plane, int height, int width, int kernel, int r0, int q0) where T : IFloatingPointIeee754<T>
    {
        int best = -1;
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++)
        {
            int r = r0 + u, q = q0 + v;
            if (r < 0 || r >= height || q < 0 || q >= width) continue;
            if (best < 0 || plane[r * width + q] > plane[best]) best = r * width + q;
        }
        return best;
    }

    /// <summary>
    /// Average pooling of each (H, W) plane: the sum of the window's taps inside the image divided by kernel²
    /// (padding counts as zeros, PyTorch's count_include_pad = true).
    /// </summary>
    public static void AvgPool2d<T>(ReadOnlySpan<T> x, Span<T> y, int planes, int height, int width, int kernel, int stride, int padding)
        where T : IFloatingPointIeee754<T>
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        T scale = T.One / T.CreateChecked(kernel * kernel);
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        {
            T sum = T.Zero;
            for (int u = 0; u < kernel; u++)
            for (int v = 0; v < kernel; v++)
            {
                int r = i * stride - padding + u, q = j * stride - padding + v;
                if (r >= 0 && r < height && q >= 0 && q < width) sum += x[(p * height + r) * width + q];
            }
            y[(p * ho + i) * wo + j] = sum * scale;
        }
    }

    /// <summary>The gradient of <see cref="AvgPool2d{T}"/>.</summary>
    public static void AvgPool2dBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int planes, int height, int width, int kernel, int stride, int padding)
        where T : IFloatingPointIeee754<T>
    {
        int ho = Conv2dGeometry.OutSize(height, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(width, kernel, stride, padding, 1);
        T scale = T.One / T.CreateChecked(kernel * kernel);
        dx.Clear();
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < ho; i++)
        for (int j = 0; j < wo; j++)
        for (int u = 0; u < kernel; u++)
        for (int v = 0; v < kernel; v++)
        {
            int r = i * stride - padding + u, q = j * stride - padding + v;
            if (r >= 0 && r < height && q >= 0 && q < width) dx[(p * height + r) * width + q] += dy[(p * ho + i) * wo + j] * scale;
        }
    }

    /// <summary>y[p] = mean of plane p of x (planes × size values): global average pooling of (N, C, H, W) to (N, C).</summary>
    public static void GlobalAvgPool<T>(ReadOnlySpan<T> x, Span<T> y, int planes, int size) where T : IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        {
            T sum = T.Zero;
            for (int i = 0; i < size; i++) sum += x[p * size + i];
            y[p] = sum / T.CreateChecked(size);
        }
    }

    /// <summary>The gradient of <see cref="GlobalAvgPool{T}"/>: dx[p, i] = dy[p] / size.</summary>
    public static void GlobalAvgPoolBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int planes, int size) where T : IFloatingPointIeee754<T>
    {
        for (int p = 0; p < planes; p++)
        for (int i = 0; i < size; i++)
            dx[p * size + i] = dy[p] / T.CreateChecked(size);
    }

    // ---------------------------------------------------------------- layout

    /// <summary>
    /// y = x with its axes permuted: y's axis i is x's axis perm[i]; <paramref name="shape"/> is x's shape.
    /// </summary>
    public static void Permute<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> shape, ReadOnlySpan<int> perm, Span<T> y)
    {
        int rank = shape.Length;
        if (perm.Length != rank) throw new ArgumentException($"Permute: perm has {perm.Length} axes but the shape {Kernels.Format(shape)} has {rank}.", nameof(perm));
        Kernels.CheckPermutation(perm, nameof(Permute));
        using var stridesScratch = new Scratch<int>(stackalloc int[Scratch.StackInts], rank);
        using var indexScratch = new Scratch<int>(stackalloc int[Scratch.StackInts], rank);
        Span<int> strides = stridesScratch.Span, index = indexScratch.Span;
        int s = 1;
        for (int i = rank - 1; i >= 0; i--) { strides[i] = s; s *= shape[i]; }
        for (int flat = 0; flat < y.Length; flat++)
        {
            // index over y's shape (shape[perm[i]]), in row-major order
            int rest = flat, source = 0;
            for (int i = rank - 1; i >= 0; i--)
            {
                int d = shape[perm[i]];
                index[i] = rest % d;
                rest /= d;
                source += index[i] * strides[perm[i]];
            }
            y[flat] = x[source];
        }
    }

    /// <summary>The inverse of a permutation (so that permuting by it undoes <paramref name="perm"/>: the gradient of Permute).</summary>
    public static int[] InversePermutation(ReadOnlySpan<int> perm)
    {
        var inverse = new int[perm.Length];
        for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
        return inverse;
    }

    /// <summary>
    /// Concatenation along the middle axis of (outer × axis × inner) views: a is (outer, na, inner), b is
    /// (outer, nb, inner), y is (outer, na + nb, inner).
    /// </summary>
    public static void Concat<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y, int outer, int na, int nb, int inner)
    {
        for (int o = 0; o < outer; o++)
        {
            a.Slice(o * na * inner, na * inner).CopyTo(y.Slice(o * (na + nb) * inner));
            b.Slice(o * nb * inner, nb * inner).CopyTo(y.Slice((o * (na + nb) + na) * inner));
        }
    }

    /// <summary>The gradient of <see cref="Concat{T}"/>: dy split into da and db (each skipped when empty).</summary>
    public static void ConcatBackward<T>(ReadOnlySpan<T> dy, Span<T> da, Span<T> db, int outer, int na, int nb, int inner)
    {
        if (!da.IsEmpty) Slice(dy, da, outer, na + nb, 0, na, inner);
        if (!db.IsEmpty) Slice(dy, db, outer, na + nb, na, nb, inner);
    }

    /// <summary>y = x[:, start : start + length, :] of the (outer × axis × inner) view.</summary>
    public static void Slice<T>(ReadOnlySpan<T> x, Span<T> y, int outer, int axis, int start, int length, int inner)
    {
        for (int o = 0; o < outer; o++)
            x.Slice((o * axis + start) * inner, length * inner).CopyTo(y.Slice(o * length * inner));
    }

    /// <summary>The gradient of <see cref="Slice{T}"/>: dy placed at its window of dx, zeros elsewhere.</summary>
    public static void SliceBackward<T>(ReadOnlySpan<T> dy, Span<T> dx, int outer, int axis, int start, int length, int inner)
        where T : INumberBase<T>
    {
        dx.Clear();
        for (int o = 0; o < outer; o++)
            dy.Slice(o * length * inner, length * inner).CopyTo(dx.Slice((o * axis + start) * inner));
    }
}
