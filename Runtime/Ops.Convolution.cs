using System;
using System.Linq;

namespace ModelGen;

// Images and layout. Images are NCHW: the batch first, then (channels, height, width) per sample. Axes count the
// per-sample dimensions, as every op's do (Ops.PerSampleAxis): the batch always stays first.
public static partial class Ops
{
    /// <summary>Global average pooling: the mean of each channel's plane, (B, C, H, W) → (B, C).</summary>
    public static Tensor GlobalAvgPool(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4)
            throw new ArgumentException($"GlobalAvgPool: input of shape {Tensor.FormatShape(x.Shape)} is not a batch of images (B, C, H, W).", nameof(x));
        int planes = x.Dim(0) * x.Dim(1), size = x.Dim(2) * x.Dim(3);
        var y = new Tensor(x.Dim(0), x.Dim(1));
        Reference.GlobalAvgPool<float>(x.Data, y.Data, planes, size);
        return Tensor.Record(y, "GlobalAvgPool", new[] { x }, (dy, dx) => Reference.GlobalAvgPoolBackward<float>(dy, dx[0], planes, size));
    }

    /// <summary>Each sample flattened to one dimension: (B, d1, d2, …) → (B, d1·d2·…). Compiled, it is a copy.</summary>
    public static Tensor Flatten(Tensor x)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1) throw new ArgumentException("Flatten: a scalar has no batch dimension.", nameof(x));
        return ReshapeTo("Flatten", x, new[] { x.Dim(0), x.Length / Math.Max(x.Dim(0), 1) });
    }

    /// <summary>
    /// Each sample reshaped to (d1), (d1, d2) or (d1, d2, d3): a trailing 0 means the dimension is absent, and one
    /// dimension may be −1 (inferred). The batch stays first. Compiled, it is a copy.
    /// </summary>
    public static Tensor Reshape(Tensor x, int d1, int d2 = 0, int d3 = 0)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank < 1) throw new ArgumentException("Reshape: a scalar has no batch dimension.", nameof(x));
        int perSample = x.Length / Math.Max(x.Dim(0), 1);
        var dims = ReshapeDims(d1, d2, d3, perSample, out string? error);
        if (dims == null)
            throw new ArgumentException($"Reshape: cannot reshape {Tensor.FormatShape(x.Shape)} to per-sample ({string.Join(", ", new[] { d1, d2, d3 }.Where(d => d != 0))}): {error}.");
        return ReshapeTo("Reshape", x, new[] { x.Dim(0) }.Concat(dims).ToArray());
    }

    /// <summary>The per-sample dimensions of Reshape(d1, d2, d3) for <paramref name="count"/> values per sample, or null with a reason.</summary>
    internal static int[]? ReshapeDims(int d1, int d2, int d3, int count, out string? error)
    {
        error = null;
        var dims = d3 != 0 ? new[] { d1, d2, d3 } : d2 != 0 ? new[] { d1, d2 } : new[] { d1 };
        if (d2 == 0 && d3 != 0 || dims.Any(d => d == 0 || d < -1) || dims.Count(d => d == -1) > 1)
        {
            error = "dimensions must be positive, with at most one −1 and zeros only at the end";
            return null;
        }
        int known = dims.Where(d => d > 0).Aggregate(1, (a, b) => a * b);
        if (dims.Contains(-1))
        {
            if (known == 0 || count % known != 0) { error = $"{count} values per sample do not divide into {known}"; return null; }
            dims[Array.IndexOf(dims, -1)] = count / known;
        }
        else if (known != count)
        {
            error = $"{count} values per sample, not {known}";
            return null;
        }
        return dims;
    }

    static Tensor ReshapeTo(string op, Tensor x, int[] shape)
    {
        var y = new Tensor(x.Data, shape);
        return Tensor.Record(y, op, new[] { x }, static (dy, dx) => dy.CopyTo(dx[0].AsSpan()));
    }

    /// <summary>Swaps two per-sample axes (0 = the first axis after the batch; negative counts from the end).</summary>
    public static Tensor Transpose(Tensor x, int axis0, int axis1)
    {
        ArgumentNullException.ThrowIfNull(x);
        int rank = x.Rank - 1;
        int a = PerSampleAxis("Transpose", x, axis0), b = PerSampleAxis("Transpose", x, axis1);
        var perm = Enumerable.Range(0, rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return PermuteBy("Transpose", x, perm);
    }

    /// <summary>
    /// Reorders the per-sample axes: the result's axis i is x's per-sample axis a_i (a2, a3 = −1 when the sample has
    /// fewer axes). For (B, C, H, W), Permute(x, 1, 2, 0) gives (B, H, W, C).
    /// </summary>
    public static Tensor Permute(Tensor x, int a0, int a1, int a2 = -1, int a3 = -1)
    {
        ArgumentNullException.ThrowIfNull(x);
        var perm = new[] { a0, a1, a2, a3 }.Take(x.Rank - 1).ToArray();
        if (x.Rank - 1 > 4 || x.Rank < 3 || !PermutationOk(perm, x.Rank - 1) || new[] { a0, a1, a2, a3 }.Skip(x.Rank - 1).Any(v => v != -1))
            throw new ArgumentException($"Permute: ({a0}, {a1}, {a2}, {a3}) is not a permutation of the per-sample axes of {Tensor.FormatShape(x.Shape)}.");
        return PermuteBy("Permute", x, perm);
    }

    internal static bool PermutationOk(int[] perm, int rank) =>
        perm.Length == rank && perm.All(p => p >= 0 && p < rank) && perm.Distinct().Count() == rank;

    static Tensor PermuteBy(string op, Tensor x, int[] perSample)
    {
        var perm = new[] { 0 }.Concat(perSample.Select(p => p + 1)).ToArray();
        var shape = x.GetShape();
        var yShape = perm.Select(p => shape[p]).ToArray();
        var y = new Tensor(yShape);
        Reference.Permute<float>(x.Data, shape, perm, y.Data);
        var inverse = Reference.InversePermutation(perm);
        return Tensor.Record(y, op, new[] { x }, (dy, dx) => Reference.Permute<float>(dy, yShape, inverse, dx[0]));
    }

    /// <summary>Concatenates two tensors along a per-sample axis (all other dimensions equal). Two operands; nest calls for more.</summary>
    public static Tensor Concat(Tensor a, Tensor b, int axis)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int ax = PerSampleAxis("Concat", a, axis) + 1;
        if (a.Rank != b.Rank || Enumerable.Range(0, a.Rank).Any(i => i != ax && a.Dim(i) != b.Dim(i)))
            throw new ArgumentException($"Concat: shapes {Tensor.FormatShape(a.Shape)} and {Tensor.FormatShape(b.Shape)} differ outside axis {axis}.");
        var (outer, na, inner) = Reference.SplitAtAxis(a.Shape, ax);
        int nb = b.Dim(ax);
        var shape = a.GetShape();
        shape[ax] = na + nb;
        var y = new Tensor(shape);
        Reference.Concat<float>(a.Data, b.Data, y.Data, outer, na, nb, inner);
        return Tensor.Record(y, "Concat", new[] { a, b },
            (dy, dx) => Reference.ConcatBackward<float>(dy, dx[0], dx[1], outer, na, nb, inner));
    }

    /// <summary>x[…, start : start + length, …] along a per-sample axis.</summary>
    public static Tensor Slice(Tensor x, int axis, int start, int length)
    {
        ArgumentNullException.ThrowIfNull(x);
        int ax = PerSampleAxis("Slice", x, axis) + 1;
        var (outer, size, inner) = Reference.SplitAtAxis(x.Shape, ax);
        if (start < 0 || length < 1 || start + length > size)
            throw new ArgumentException($"Slice: [{start}, {start + length}) is outside axis {axis} of {Tensor.FormatShape(x.Shape)}.");
        var shape = x.GetShape();
        shape[ax] = length;
        var y = new Tensor(shape);
        Reference.Slice<float>(x.Data, y.Data, outer, size, start, length, inner);
        return Tensor.Record(y, "Slice", new[] { x }, (dy, dx) => Reference.SliceBackward<float>(dy, dx[0], outer, size, start, length, inner));
    }

    // ---------------------------------------------------------------- used by the Conv2d and pooling layers

    internal static Tensor Conv2d(string layer, Tensor x, Tensor w, Tensor? b, int stride, int padding, int dilation, int groups)
    {
        ArgumentNullException.ThrowIfNull(x);
        int outC = w.Dim(0), k = w.Dim(2), inC = w.Dim(1) * groups;
        if (x.Rank != 4 || x.Dim(1) != inC)
            throw new ArgumentException($"{layer}: input shape {Tensor.FormatShape(x.Shape)} does not fit: it expects (B, {inC}, H, W) images.", nameof(x));
        var g = new Conv2dGeometry(x.Dim(0), inC, x.Dim(2), x.Dim(3), outC, k, stride, padding, dilation, groups);
        if (g.OutHeight < 1 || g.OutWidth < 1)
            throw new ArgumentException($"{layer}: input shape {Tensor.FormatShape(x.Shape)} is smaller than the {k}x{k} window (dilation {dilation}, padding {padding}).", nameof(x));
        var y = new Tensor(g.Batch, outC, g.OutHeight, g.OutWidth);
        Reference.Conv2d<float>(x.Data, w.Data, b is null ? default : b.Data, y.Data, g);
        var inputs = b is null ? new[] { x, w } : new[] { x, w, b };
        return Tensor.Record(y, "Conv2d", inputs,
            (dy, dx) => Reference.Conv2dBackward<float>(x.Data, w.Data, dy, dx[0], dx[1], dx.Length > 2 ? dx[2] : null, g));
    }

    internal static Tensor Pool2d(string layer, bool max, Tensor x, int kernel, int stride, int padding)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (x.Rank != 4)
            throw new ArgumentException($"{layer}: input shape {Tensor.FormatShape(x.Shape)} is not a batch of images (B, C, H, W).", nameof(x));
        int h = x.Dim(2), w = x.Dim(3), planes = x.Dim(0) * x.Dim(1);
        int ho = Conv2dGeometry.OutSize(h, kernel, stride, padding, 1), wo = Conv2dGeometry.OutSize(w, kernel, stride, padding, 1);
        if (ho < 1 || wo < 1)
            throw new ArgumentException($"{layer}: input shape {Tensor.FormatShape(x.Shape)} is smaller than the {kernel}x{kernel} window.", nameof(x));
        var y = new Tensor(x.Dim(0), x.Dim(1), ho, wo);
        if (max)
        {
            Reference.MaxPool2d<float>(x.Data, y.Data, planes, h, w, kernel, stride, padding);
            return Tensor.Record(y, "MaxPool2d", new[] { x }, (dy, dx) => Reference.MaxPool2dBackward<float>(x.Data, dy, dx[0], planes, h, w, kernel, stride, padding));
        }
        Reference.AvgPool2d<float>(x.Data, y.Data, planes, h, w, kernel, stride, padding);
        return Tensor.Record(y, "AvgPool2d", new[] { x }, (dy, dx) => Reference.AvgPool2dBackward<float>(dy, dx[0], planes, h, w, kernel, stride, padding));
    }
}
