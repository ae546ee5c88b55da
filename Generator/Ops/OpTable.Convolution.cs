using System.Linq;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

// Convolution family: 2-D convolution (im2col + GEMM in the runtime), pooling, and layout ops (reshape, permute,
// concat, slice). Images are NCHW with the batch first. Attributes:
//   Conv2d*, Conv2dGrad*:   Ints = { kernel, stride, padding, dilation, groups }
//   MaxPool2d, AvgPool2d:   Ints = { kernel, stride, padding }
//   Permute:                Ints = the permutation of all axes (the batch axis 0 stays 0)
//   Concat, Slice:          Axis (of the full shape, never 0); Slice: Ints = { start, length }
// Workspaces and saved state live in the node's Aux buffer: for the convolutions, 4 slots (chunks of the batch run in
// parallel) of one image's im2col matrix and of one weight gradient (fixed size, reused for every image of the
// batch); the argmax positions (as floats) for max pooling.
internal static partial class OpTable
{
    static partial void Convolution()
    {
        // Conv2d and Conv2dBias opt in to activation fusion (OpDef.FusesActivation): a ReLU, tanh or sigmoid that only
        // reads the convolution is applied by Kernels.Conv2dForward right after each image's GEMM, and the unit's
        // one buffer is the activation's.
        // ---- convolution: x (B, C, H, W), w (O, C/G, k, k)[, b (O)] → (B, O, Ho, Wo) ----
        Row(new("Conv2d", OpKind.Kernel, 2, ConvRule)
        {
            AuxName = "columns", AuxComment = "im2col workspace: 4 slots of one image of {0} unrolled into patches", FusesActivation = true,
            Backward = (g, n, dy) => new[] { ConvGradData(g, n, dy), ConvGradWeight(g, n, dy) },
            Calls = new[] { "Kernels.Conv2dForward" },
            Emit = (c, n) => c.Call("Kernels.Conv2dForward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, default, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Geometry(c.ShapeOf(n.Inputs[0]), c.ShapeOf(n.Id), n)}{ConvEpilogue(c, n)}"),
        });
        Row(new("Conv2dBias", OpKind.Kernel, 3, ConvRule)
        {
            AuxName = "columns", AuxComment = "im2col workspace: 4 slots of one image of {0} unrolled into patches", FusesActivation = true,
            Backward = (g, n, dy) => new[]
            {
                ConvGradData(g, n, dy), ConvGradWeight(g, n, dy),
                g.Op("ChannelSum", new[] { dy }, x => x.Like = In(g, n, 2)),
            },
            Calls = new[] { "Kernels.Conv2dForward" },
            Emit = (c, n) => c.Call("Kernels.Conv2dForward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Geometry(c.ShapeOf(n.Inputs[0]), c.ShapeOf(n.Id), n)}{ConvEpilogue(c, n)}"),
        });
        // Conv2dGradData(dy, w) → dx (Like = x's shape); Aux: one image's column matrix.
        Row(new("Conv2dGradData", OpKind.Kernel, 2, ConvGradRule)
        {
            AuxName = "columns", AuxComment = "col2im workspace: 4 slots of one image's patch gradients",
            Calls = new[] { "Kernels.Conv2dBackwardData" },
            Emit = (c, n) => c.Call("Kernels.Conv2dBackwardData", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Geometry(c.ShapeOf(n.Id), c.ShapeOf(n.Inputs[0]), n)}"),
        });
        // Conv2dGradWeight(x, dy) → dw (Like = w's shape); Aux: one image's column matrix (im2col is recomputed).
        Row(new("Conv2dGradWeight", OpKind.Kernel, 2, ConvGradRule)
        {
            AuxName = "columns", AuxComment = "im2col workspace: 4 slots of one image of {0} unrolled again, and partial weight gradients",
            Calls = new[] { "Kernels.Conv2dBackwardWeight" },
            Emit = (c, n) => c.Call("Kernels.Conv2dBackwardWeight", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Geometry(c.ShapeOf(n.Inputs[0]), c.ShapeOf(n.Inputs[1]), n)}"),
        });
        // ChannelSum(dy) → (O): the bias gradient, dy summed over the batch and each plane.
        Row(new("ChannelSum", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.ChannelSum" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Call("Kernels.ChannelSum", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {s.DimExpr(0)}, {s[1]}, {s.ProductExpr(2, s.Rank)}");
            },
        });

        // ---- pooling: (B, C, H, W) → (B, C, Ho, Wo) ----
        Row(new("MaxPool2d", OpKind.Kernel, 1, PoolRule)
        {
            AuxName = "argmax", AuxComment = "where each maximum of {0} was (index in its plane, as a float)",
            Backward = (g, n, dy) => new[] { g.Op("MaxPool2dGrad", new[] { n.Id, dy }, x => { x.Like = In(g, n, 0); x.Ints = n.Ints; }) },
            Calls = new[] { "Kernels.MaxPool2d" },
            Emit = (c, n) => c.Call("Kernels.MaxPool2d", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Planes(c.ShapeOf(n.Id))}, {PlaneArgs(c.ShapeOf(n.Inputs[0]))}, {n.Ints[0]}, {n.Ints[1]}, {n.Ints[2]}"),
        });
        // MaxPool2dGrad(pool, dy) → dx: reads the pool node's argmax (its Aux).
        Row(new("MaxPool2dGrad", OpKind.Kernel, 2, LikeRule)
        {
            Calls = new[] { "Kernels.MaxPool2dBackward" },
            Emit = (c, n) => c.Call("Kernels.MaxPool2dBackward", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Planes(c.ShapeOf(n.Id))}, {PlaneArgs(c.ShapeOf(n.Id))}, {PlaneArgs(c.ShapeOf(n.Inputs[1]))}"),
        });
        Row(new("AvgPool2d", OpKind.Kernel, 1, PoolRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("AvgPool2dGrad", new[] { dy }, x => { x.Like = In(g, n, 0); x.Ints = n.Ints; }) },
            Calls = new[] { "Kernels.AvgPool2d" },
            Emit = (c, n) => c.Call("Kernels.AvgPool2d", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Planes(c.ShapeOf(n.Id))}, {PlaneArgs(c.ShapeOf(n.Inputs[0]))}, {n.Ints[0]}, {n.Ints[1]}, {n.Ints[2]}"),
        });
        Row(new("AvgPool2dGrad", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.AvgPool2dBackward" },
            Emit = (c, n) => c.Call("Kernels.AvgPool2dBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Planes(c.ShapeOf(n.Id))}, {PlaneArgs(c.ShapeOf(n.Id))}, {n.Ints[0]}, {n.Ints[1]}, {n.Ints[2]}"),
        });
        // GlobalAvgPool: (B, C, H, W) → (B, C).
        Row(new("GlobalAvgPool", OpKind.Kernel, 1, GlobalPoolRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("GlobalAvgPoolGrad", new[] { dy }, x => x.Like = In(g, n, 0)) },
            Calls = new[] { "Kernels.GlobalAvgPool" },
            Emit = (c, n) => c.Call("Kernels.GlobalAvgPool", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Planes(c.ShapeOf(n.Inputs[0]))}, {c.ShapeOf(n.Inputs[0]).ProductExpr(2, 4)}"),
        });
        Row(new("GlobalAvgPoolGrad", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.GlobalAvgPoolBackward" },
            Emit = (c, n) => c.Call("Kernels.GlobalAvgPoolBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Planes(c.ShapeOf(n.Id))}, {c.ShapeOf(n.Id).ProductExpr(2, 4)}"),
        });

        // ---- layout ----
        // Reshape(x) to Like: the same values under another shape. A copy (an aliasing buffer would need memory-plan support).
        Row(new("Reshape", OpKind.Kernel, 1, ReshapeRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("Reshape", new[] { dy }, x => x.Like = In(g, n, 0)) },
            Calls = new[] { "Kernels.Copy" },
            Emit = (c, n) => c.Call("Kernels.Copy", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}"),
        });
        Row(new("Permute", OpKind.Kernel, 1, PermuteRule)
        {
            Backward = (g, n, dy) =>
            {
                var inverse = new int[n.Ints.Length];
                for (int i = 0; i < inverse.Length; i++) inverse[n.Ints[i]] = i;
                return new[] { g.Op("Permute", new[] { dy }, x => x.Ints = inverse) };
            },
            Calls = new[] { "Kernels.Permute" },
            Emit = (c, n) => c.Call("Kernels.Permute", $"{c.Buf(n.Inputs[0])}, {ShapeSpan(c.ShapeOf(n.Inputs[0]))}, stackalloc int[] {{ {string.Join(", ", n.Ints)} }}, {c.Buf(n.Id)}"),
        });
        Row(new("Concat", OpKind.Kernel, 2, ConcatRule)
        {
            Backward = (g, n, dy) =>
            {
                int na = In(g, n, 0)[n.Axis], nb = In(g, n, 1)[n.Axis];
                return new[]
                {
                    g.Op("Slice", new[] { dy }, x => { x.Axis = n.Axis; x.Ints = new[] { 0, na }; }),
                    g.Op("Slice", new[] { dy }, x => { x.Axis = n.Axis; x.Ints = new[] { na, nb }; }),
                };
            },
            Calls = new[] { "Kernels.Concat" },
            Emit = (c, n) =>
            {
                Shape a = c.ShapeOf(n.Inputs[0]), b = c.ShapeOf(n.Inputs[1]);
                c.Call("Kernels.Concat", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {a.ProductExpr(0, n.Axis)}, {a[n.Axis]}, {b[n.Axis]}, {a.ProductExpr(n.Axis + 1, a.Rank)}");
            },
        });
        Row(new("Slice", OpKind.Kernel, 1, SliceRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("SliceGrad", new[] { dy }, x => { x.Like = In(g, n, 0); x.Axis = n.Axis; x.Ints = n.Ints; }) },
            Calls = new[] { "Kernels.Slice" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Call("Kernels.Slice", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {s.ProductExpr(0, n.Axis)}, {s[n.Axis]}, {n.Ints[0]}, {n.Ints[1]}, {s.ProductExpr(n.Axis + 1, s.Rank)}");
            },
        });
        Row(new("SliceGrad", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.SliceBackward" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Id);
                c.Call("Kernels.SliceBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {s.ProductExpr(0, n.Axis)}, {s[n.Axis]}, {n.Ints[0]}, {n.Ints[1]}, {s.ProductExpr(n.Axis + 1, s.Rank)}");
            },
        });
    }

    // ---------------- convolution helpers ----------------

    static int ConvGradData(GradientBuilder g, Node n, int dy) =>
        g.Op("Conv2dGradData", new[] { dy, n.Inputs[1] }, x => { x.Like = In(g, n, 0); x.Ints = n.Ints; });

    static int ConvGradWeight(GradientBuilder g, Node n, int dy) =>
        g.Op("Conv2dGradWeight", new[] { n.Inputs[0], dy }, x => { x.Like = In(g, n, 1); x.Ints = n.Ints; });

    /// <summary>Output size of one spatial dimension of a window op.</summary>
    static int OutSize(int size, int kernel, int stride, int padding, int dilation) => (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;

    static bool IsImages(Shape s) => s.Rank == 4 && s.IsBatched;

    static Shape? ConvRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        Shape x = s[0], w = s[1];
        int k = n.Ints[0], stride = n.Ints[1], pad = n.Ints[2], dil = n.Ints[3], groups = n.Ints[4];
        if (!IsImages(x))
        {
            e = $"input {x} is not a batch of images (B, C, H, W) for weight {w}";
            return null;
        }
        if (w.Rank != 4 || w[2] != k || w[3] != k || x[1] != w[1] * groups || w[0] % groups != 0)
        {
            e = $"input {x} and weight {w} do not fit: {(groups == 1 ? "" : $"with {groups} groups ")}the input needs {(w.Rank == 4 ? w[1] * groups : 0)} channels";
            return null;
        }
        if (s.Length > 2 && !s[2].Equals(new Shape(w[0])))
        {
            e = $"bias {s[2]} does not fit weight {w}: it needs ({w[0]})";
            return null;
        }
        int ho = OutSize(x[2], k, stride, pad, dil), wo = OutSize(x[3], k, stride, pad, dil);
        if (ho < 1 || wo < 1)
        {
            e = $"input {x} is smaller than the {k}x{k} window{(dil > 1 ? $" (dilation {dil})" : "")} with padding {pad}";
            return null;
        }
        n.Aux = new Shape(ConvWorkspace(x[1], w[0], w[1], k, ho, wo));
        return new Shape(Ir.Shape.Batch, w[0], ho, wo);
    }

    static Shape? ConvGradRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        // Conv2dGradData: (dy, w) → x's shape; Conv2dGradWeight: (x, dy) → w's shape.
        Shape image = n.Op == "Conv2dGradData" ? n.Like! : s[0], output = n.Op == "Conv2dGradData" ? s[0] : s[1];
        int k = n.Ints[0], groups = n.Ints[4];
        n.Aux = new Shape(ConvWorkspace(image[1], output[1], image[1] / groups, k, output[2], output[3]));
        return n.Like;
    }

    /// <summary>Chunks of images the runtime's convolution kernels run in parallel (Kernels.Conv2dSlots).</summary>
    const int ConvSlots = 4;

    /// <summary>
    /// The convolution workspace, as Kernels.Conv2dWorkspace: ConvSlots slots of one image's column matrix
    /// (C·k·k·Ho·Wo) and one weight gradient (O·C/G·k·k, the weight gradient's partial sums).
    /// </summary>
    static int ConvWorkspace(int channels, int outChannels, int groupChannels, int k, int ho, int wo) =>
        ConvSlots * (channels * k * k * ho * wo + outChannels * groupChannels * k * k);

    /// <summary>", activation: Activation.Relu" when fusion gave the convolution an activation (OpDef.FusesActivation), else "".</summary>
    static string ConvEpilogue(IEmitContext c, Node n) => c.Epilogue(n).Activation is var act && act != "None" ? $", activation: Activation.{act}" : "";

    static string Geometry(Shape x, Shape y, Node n)
    {
        var text = $"new Conv2dGeometry({x.DimExpr(0)}, {x[1]}, {x[2]}, {x[3]}, {y[1]}, Kernel: {n.Ints[0]}";
        if (n.Ints[1] != 1) text += $", Stride: {n.Ints[1]}";
        if (n.Ints[2] != 0) text += $", Padding: {n.Ints[2]}";
        if (n.Ints[3] != 1) text += $", Dilation: {n.Ints[3]}";
        if (n.Ints[4] != 1) text += $", Groups: {n.Ints[4]}";
        return text + ")";
    }

    // ---------------- pooling helpers ----------------

    static Shape? PoolRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        int k = n.Ints[0], stride = n.Ints[1], pad = n.Ints[2];
        if (!IsImages(x))
        {
            e = $"input {x} is not a batch of images (B, C, H, W)";
            return null;
        }
        int ho = OutSize(x[2], k, stride, pad, 1), wo = OutSize(x[3], k, stride, pad, 1);
        if (ho < 1 || wo < 1)
        {
            e = $"input {x} is smaller than the {k}x{k} window with padding {pad}";
            return null;
        }
        var y = new Shape(Ir.Shape.Batch, x[1], ho, wo);
        if (n.Op == "MaxPool2d") n.Aux = y;
        return y;
    }

    static Shape? GlobalPoolRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        if (!IsImages(s[0]))
        {
            e = $"input {s[0]} is not a batch of images (B, C, H, W)";
            return null;
        }
        return new Shape(Ir.Shape.Batch, s[0][1]);
    }

    /// <summary>"B * C" planes of an image shape.</summary>
    static string Planes(Shape s) => s.ProductExpr(0, 2);

    /// <summary>"H, W" of an image shape.</summary>
    static string PlaneArgs(Shape s) => $"{s[2]}, {s[3]}";

    // ---------------- layout helpers ----------------

    static Shape? ReshapeRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var to = n.Like!;
        if (to.FixedCount != s[0].FixedCount || to.IsBatched != s[0].IsBatched)
        {
            e = $"cannot reshape {s[0]} to {to}: {s[0].FixedCount} values per sample, not {to.FixedCount}";
            return null;
        }
        return to;
    }

    static Shape? PermuteRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        var p = n.Ints;
        if (p.Length != x.Rank || p.Distinct().Count() != p.Length || p.Any(a => a < 0 || a >= x.Rank) || x.IsBatched && p[0] != 0)
        {
            e = $"({string.Join(", ", p)}) is not a permutation of {x} that keeps the batch first";
            return null;
        }
        return new Shape(p.Select(a => x[a]).ToArray());
    }

    static Shape? ConcatRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        Shape a = s[0], b = s[1];
        int axis = n.Axis;
        bool fits = a.Rank == b.Rank && axis > 0 && axis < a.Rank && Enumerable.Range(0, a.Rank).All(i => i == axis || a[i] == b[i]);
        if (!fits)
        {
            e = $"shapes {a} and {b} do not concatenate along axis {axis - 1} (every other dimension must be equal)";
            return null;
        }
        return a.With(axis, a[axis] + b[axis]);
    }

    static Shape? SliceRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        int start = n.Ints[0], length = n.Ints[1];
        if (n.Axis < 1 || n.Axis >= x.Rank || start < 0 || length < 1 || start + length > x[n.Axis])
        {
            e = $"[{start}, {start + length}) is outside axis {n.Axis - 1} of {x}";
            return null;
        }
        return x.With(n.Axis, length);
    }
}
