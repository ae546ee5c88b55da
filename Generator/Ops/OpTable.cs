using System;
using System.Collections.Generic;
using System.Linq;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

/// <summary>
/// The op table: one row per op with its arity, shape rule, scalar and SIMD templates (elementwise ops) or
/// kernel emitter (everything else), and its backward rule written as graph-builder code. Adding an op
/// touches this table, its eager reference kernel in the runtime, and its tests.
/// </summary>
internal static partial class OpTable
{
    static readonly Dictionary<string, OpDef> Rows = new(StringComparer.Ordinal);

    public static OpDef Get(string name) => Rows.TryGetValue(name, out var def) ? def : throw new KeyNotFoundException("No op row for " + name);

    public static bool TryGet(string name, out OpDef def) => Rows.TryGetValue(name, out def!);

    /// <summary>Every row.</summary>
    public static IEnumerable<OpDef> All => Rows.Values;

    static void Row(OpDef def) => Rows.Add(def.Name, def);

    static OpTable()
    {
        Core();
        // Op families in files of their own (OpTable.{Family}.cs).
        Convolution();
        Normalization();
        Sequence();
        Losses();
    }

    static partial void Convolution();
    static partial void Normalization();
    static partial void Sequence();
    static partial void Losses();

    static void Core()
    {
        // ---- sources ----
        Row(new("Input", OpKind.Source, 0, Keep));
        Row(new("Labels", OpKind.Source, 0, Keep));
        Row(new("Target", OpKind.Source, 0, Keep));
        Row(new("Parameter", OpKind.Source, 0, Keep));
        Row(new("Const", OpKind.Source, 0, Keep));

        // ---- elementwise, binary with broadcasting ----
        Row(new("Add", OpKind.Elementwise, 2, BroadcastRule) { Fold = v => v[0] + v[1], Scalar = "{0} + {1}", Vector = "{0} + {1}",
            Backward = (g, n, dy) => new[] { g.ReduceTo(dy, In(g, n, 0)), g.ReduceTo(dy, In(g, n, 1)) } });
        Row(new("Sub", OpKind.Elementwise, 2, BroadcastRule) { Fold = v => v[0] - v[1], Scalar = "{0} - {1}", Vector = "{0} - {1}",
            Backward = (g, n, dy) => new[] { g.ReduceTo(dy, In(g, n, 0)), g.ReduceTo(g.Op("Neg", new[] { dy }), In(g, n, 1)) } });
        Row(new("Mul", OpKind.Elementwise, 2, BroadcastRule) { Fold = v => v[0] * v[1], Scalar = "{0} * {1}", Vector = "{0} * {1}",
            Backward = (g, n, dy) => new[]
            {
                g.ReduceTo(g.Op("Mul", new[] { dy, n.Inputs[1] }), In(g, n, 0)),
                g.ReduceTo(g.Op("Mul", new[] { dy, n.Inputs[0] }), In(g, n, 1)),
            } });
        Row(new("Div", OpKind.Elementwise, 2, BroadcastRule) { Fold = v => v[0] / v[1], Scalar = "{0} / {1}", Vector = "{0} / {1}",
            // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b
            Backward = (g, n, dy) => new[]
            {
                g.ReduceTo(g.Op("Div", new[] { dy, n.Inputs[1] }), In(g, n, 0)),
                g.ReduceTo(g.Op("Neg", new[] { g.Op("Div", new[] { g.Op("Mul", new[] { dy, n.Id }), n.Inputs[1] }) }), In(g, n, 1)),
            } });

        // ---- elementwise, unary ----
        Row(new("Neg", OpKind.Elementwise, 1, Same) { Fold = v => -v[0], Scalar = "-{0}", Vector = "-{0}",
            Backward = (g, n, dy) => new[] { g.Op("Neg", new[] { dy }) } });
        Row(new("Copy", OpKind.Elementwise, 1, Same) { Scalar = "{0}", Vector = "{0}",
            Backward = (g, n, dy) => new[] { dy } });
        Row(new("Relu", OpKind.Elementwise, 1, Same) { Fold = v => Math.Max(v[0], 0), Scalar = "MathF.Max({0}, 0f)", Vector = "V.Max({0}, V<float>.Zero)",
            Backward = (g, n, dy) => new[] { g.Op("ReluGrad", new[] { n.Id, dy }) } });
        Row(new("Tanh", OpKind.Elementwise, 1, Same) { Fold = v => Math.Tanh(v[0]), Scalar = "VMath.Tanh({0})", Vector = "VMath.Tanh({0})",
            Backward = (g, n, dy) => new[] { g.Op("TanhGrad", new[] { n.Id, dy }) } });
        Row(new("Sigmoid", OpKind.Elementwise, 1, Same) { Fold = v => 1 / (1 + Math.Exp(-v[0])), Scalar = "VMath.Sigmoid({0})", Vector = "VMath.Sigmoid({0})",
            Backward = (g, n, dy) => new[] { g.Op("SigmoidGrad", new[] { n.Id, dy }) } });
        Row(new("Exp", OpKind.Elementwise, 1, Same) { Fold = v => Math.Exp(v[0]), Scalar = "MathF.Exp({0})", Vector = "V.Exp({0})",
            Backward = (g, n, dy) => new[] { g.Op("Mul", new[] { dy, n.Id }) } });
        Row(new("Log", OpKind.Elementwise, 1, Same) { Fold = v => Math.Log(v[0]), Scalar = "MathF.Log({0})", Vector = "V.Log({0})",
            Backward = (g, n, dy) => new[] { g.Op("Div", new[] { dy, n.Inputs[0] }) } });
        Row(new("Square", OpKind.Elementwise, 1, Same) { Fold = v => v[0] * v[0], Scalar = "{0} * {0}", Vector = "{0} * {0}",
            Backward = (g, n, dy) => new[] { g.Op("Mul", new[] { g.Op("Mul", new[] { dy, n.Inputs[0] }), g.Const(2) }) } });

        // ---- elementwise gradients of activations, in terms of the activation's output y ----
        Row(new("ReluGrad", OpKind.Elementwise, 2, SameAsFirst) { Scalar = "({0} > 0f ? {1} : 0f)",
            Vector = "V.ConditionalSelect(V.GreaterThan({0}, V<float>.Zero), {1}, V<float>.Zero)" });
        Row(new("TanhGrad", OpKind.Elementwise, 2, SameAsFirst) { Scalar = "{1} * (1f - {0} * {0})",
            Vector = "{1} * (V<float>.One - {0} * {0})" });
        Row(new("SigmoidGrad", OpKind.Elementwise, 2, SameAsFirst) { Scalar = "{1} * {0} * (1f - {0})",
            Vector = "{1} * {0} * (V<float>.One - {0})" });

        // ---- matrix product: runtime GEMM with a fused bias + activation epilogue ----
        Row(new("MatMul", OpKind.Kernel, 2, MatMulRule)
        {
            Backward = (g, n, dy) =>
            {
                if (n.TransA || n.TransB) throw new InvalidOperationException("transposed MatMul is not differentiated");
                // dA = dY·Bᵀ (batched like A); dB = Aᵀ·dY with A and dY viewed as (rows, k) and (rows, n).
                int da = g.Op("MatMul", new[] { dy, n.Inputs[1] }, x => x.TransB = true);
                int db = g.Op("MatMul", new[] { n.Inputs[0], dy }, x => x.TransA = true);
                return new[] { da, db };
            },
            Calls = new[] { "Gemm.Sgemm" },
            Emit = EmitMatMul,
        });

        // ---- softmax family (any axis, viewed as outer x axis x inner) ----
        Row(new("Softmax", OpKind.Kernel, 1, Same)
        {
            Backward = (g, n, dy) => new[] { g.Op("SoftmaxGrad", new[] { n.Id, dy }, x => x.Axis = n.Axis) },
            Calls = new[] { "Kernels.Softmax" },
            Emit = (c, n) => c.Call("Kernels.Softmax", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Axes(c, n)}"),
        });
        Row(new("LogSoftmax", OpKind.Kernel, 1, Same)
        {
            Backward = (g, n, dy) => new[] { g.Op("LogSoftmaxGrad", new[] { n.Id, dy }, x => x.Axis = n.Axis) },
            Calls = new[] { "Kernels.LogSoftmax" },
            Emit = (c, n) => c.Call("Kernels.LogSoftmax", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Id)}, {Axes(c, n)}"),
        });
        Row(new("SoftmaxGrad", OpKind.Kernel, 2, SameAsFirst)
        {
            Calls = new[] { "Kernels.SoftmaxBackward" },
            Emit = (c, n) => c.Call("Kernels.SoftmaxBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Axes(c, n)}"),
        });
        Row(new("LogSoftmaxGrad", OpKind.Kernel, 2, SameAsFirst)
        {
            Calls = new[] { "Kernels.LogSoftmaxBackward" },
            Emit = (c, n) => c.Call("Kernels.LogSoftmaxBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Axes(c, n)}"),
        });

        // ---- reductions and their gradients ----
        Row(new("SumAll", OpKind.Kernel, 1, ToScalar)
        {
            Backward = (g, n, dy) => new[] { g.Op("BroadcastAll", new[] { dy }, x => x.Like = In(g, n, 0)) },
            Calls = new[] { "Kernels.Sum" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.Sum", $"{c.Buf(n.Inputs[0])}"),
        });
        Row(new("MeanAll", OpKind.Kernel, 1, ToScalar)
        {
            Backward = (g, n, dy) => new[] { g.Op("BroadcastAll", new[] { dy }, x => { x.Like = In(g, n, 0); x.Value = 1; }) },
            Calls = new[] { "Kernels.Mean" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.Mean", $"{c.Buf(n.Inputs[0])}"),
        });
        Row(new("SumAxis", OpKind.Kernel, 1, ReduceAxisRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("BroadcastAxis", new[] { dy }, x => { x.Like = In(g, n, 0); x.Axis = n.Axis; }) },
            Calls = new[] { "Kernels.ReduceSum" },
            Emit = (c, n) => c.Call("Kernels.ReduceSum", $"{c.Buf(n.Inputs[0])}, {AxesOf(c.ShapeOf(n.Inputs[0]), n.Axis)}, {c.Buf(n.Id)}, 1f"),
        });
        Row(new("MeanAxis", OpKind.Kernel, 1, ReduceAxisRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("BroadcastAxis", new[] { dy }, x => { x.Like = In(g, n, 0); x.Axis = n.Axis; x.Value = 1; }) },
            Calls = new[] { "Kernels.ReduceSum" },
            Emit = (c, n) => c.Call("Kernels.ReduceSum", $"{c.Buf(n.Inputs[0])}, {AxesOf(c.ShapeOf(n.Inputs[0]), n.Axis)}, {c.Buf(n.Id)}, 1f / ({c.ShapeOf(n.Inputs[0]).DimExpr(n.Axis)})"),
        });
        // BroadcastAll(dy, like): every element of like's shape gets dy (divided by the count when Value = 1: the mean's gradient).
        Row(new("BroadcastAll", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.Fill" },
            Emit = (c, n) =>
            {
                string scale = n.Value == 1 ? $"1f / ({c.ShapeOf(n.Id).CountExpr()})" : "1f";
                c.Call("Kernels.Fill", $"{c.Buf(n.Id)}, {c.Scalar(n.Inputs[0])}, {scale}");
            },
        });
        // BroadcastAxis(dy, like): dy repeated along like's axis (scaled by 1/axis length when Value = 1).
        Row(new("BroadcastAxis", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.BroadcastAxis" },
            Emit = (c, n) =>
            {
                var shape = c.ShapeOf(n.Id);
                string scale = n.Value == 1 ? $"1f / ({shape.DimExpr(n.Axis)})" : "1f";
                c.Call("Kernels.BroadcastAxis", $"{c.Buf(n.Inputs[0])}, {AxesOf(shape, n.Axis)}, {c.Buf(n.Id)}, {scale}");
            },
        });
        // BroadcastTo(x, like): x materialized at like's shape (for broadcasts a fused loop cannot index directly).
        Row(new("BroadcastTo", OpKind.Kernel, 1, LikeRule)
        {
            Backward = (g, n, dy) => new[] { g.ReduceTo(dy, In(g, n, 0)) },
            Calls = new[] { "Kernels.BroadcastTo" },
            Emit = (c, n) => c.Call("Kernels.BroadcastTo", $"{c.Buf(n.Inputs[0])}, {ShapeSpan(c.ShapeOf(n.Inputs[0]))}, {c.Buf(n.Id)}, {ShapeSpan(c.ShapeOf(n.Id))}"),
        });
        // ReduceTo(dy, like): dy summed over the dimensions in which like was broadcast.
        Row(new("ReduceTo", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.SumRows", "Kernels.ReduceTo" },
            Emit = (c, n) =>
            {
                Shape from = c.ShapeOf(n.Inputs[0]), to = c.ShapeOf(n.Id);
                if (to.Rank >= 1 && from.Rank > to.Rank && from.Dims.Skip(from.Rank - to.Rank).SequenceEqual(to.Dims))
                    c.Call("Kernels.SumRows", $"{c.Buf(n.Inputs[0])}, {from.ProductExpr(0, from.Rank - to.Rank)}, {to.CountExpr()}, {c.Buf(n.Id)}, accumulate: false");
                else
                    c.Call("Kernels.ReduceTo", $"{c.Buf(n.Inputs[0])}, {ShapeSpan(from)}, {c.Buf(n.Id)}, {ShapeSpan(to)}");
            },
        });

        // ---- losses ----
        Row(new("SoftmaxCrossEntropy", OpKind.Kernel, 2, SoftmaxCrossEntropyRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("SoftmaxCrossEntropyGrad", new[] { n.Id, n.Inputs[1], dy }, x => x.Like = In(g, n, 0)), -1 },
            Calls = new[] { "Kernels.SoftmaxCrossEntropy" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Result(n.Id, "Kernels.SoftmaxCrossEntropy", $"{c.Buf(n.Inputs[0])}, {c.Labels}, {s.ProductExpr(0, s.Rank - 1)}, {s.Dims[s.Rank - 1]}, {c.Aux(n.Id)}");
            },
        });
        Row(new("SoftmaxCrossEntropyGrad", OpKind.Kernel, 3, LikeRule)
        {
            Calls = new[] { "Kernels.SoftmaxCrossEntropyBackward" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Id);
                c.Call("Kernels.SoftmaxCrossEntropyBackward", $"{c.Aux(n.Inputs[0])}, {c.Labels}, {s.ProductExpr(0, s.Rank - 1)}, {s.Dims[s.Rank - 1]}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}");
            },
        });
        Row(new("MeanSquaredError", OpKind.Kernel, 2, MseRule)
        {
            Backward = (g, n, dy) =>
            {
                int dp = g.Op("MeanSquaredErrorGrad", new[] { n.Inputs[0], n.Inputs[1], dy });
                return new[] { dp, g.Op("Neg", new[] { dp }) };
            },
            Calls = new[] { "Kernels.MeanSquaredError" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.MeanSquaredError", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}"),
        });
        Row(new("MeanSquaredErrorGrad", OpKind.Kernel, 3, SameAsFirst)
        {
            Calls = new[] { "Kernels.MeanSquaredErrorBackward", "Gemm.Sgemm" },
            Emit = (c, n) => c.Call("Kernels.MeanSquaredErrorBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}"),
        });
    }

    // ---------------- shape rules ----------------

    static Shape? Keep(Node n, Shape[] s, out string? e) { e = null; return n.Shape; }

    /// <summary>The shape given in the node's Like attribute (broadcasts and reductions to a known shape).</summary>
    static Shape? LikeRule(Node n, Shape[] s, out string? e) { e = null; return n.Like; }

    static Shape? Same(Node n, Shape[] s, out string? e) { e = null; return s[0]; }

    static Shape? SameAsFirst(Node n, Shape[] s, out string? e)
    {
        e = null;
        for (int i = 1; i < s.Length; i++)
            if (!s[i].Equals(s[0]) && s[i].Rank != 0) { e = $"shapes {s[0]} and {s[i]} differ"; return null; }
        return s[0];
    }

    static Shape? ToScalar(Node n, Shape[] s, out string? e) { e = null; return Ir.Shape.Scalar; }

    static Shape? BroadcastRule(Node n, Shape[] s, out string? e) => Ir.Shape.Broadcast(s[0], s[1], out e);

    /// <summary>
    /// (…, m, k)·(k, n) → (…, m, n); with TransB the right operand is stored (n, k). With TransA both operands are
    /// viewed as matrices over their leading dimensions, (rows, m) and (rows, n), and the product is (m, n): the
    /// weight gradient Aᵀ·dY of a batched product.
    /// </summary>
    static Shape? MatMulRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        Shape a = s[0], b = s[1];
        if (n.TransA)
        {
            if (a.Rank < 2 || b.Rank < 2 || !a.Dims.Take(a.Rank - 1).SequenceEqual(b.Dims.Take(b.Rank - 1)))
            {
                e = $"shapes {a} and {b}: a transposed product needs the same leading dimensions";
                return null;
            }
            return new Shape(a[a.Rank - 1], b[b.Rank - 1]);
        }
        if (a.Rank < 2 || b.Rank != 2)
        {
            e = $"shapes {a} and {b}: the left operand needs rank 2 or more and the right operand rank 2";
            return null;
        }
        int k1 = a[a.Rank - 1];
        int k2 = n.TransB ? b[1] : b[0];
        if (k1 != k2)
        {
            e = $"shapes {a} and {b} do not chain: the inner dimensions {Dim(k1)} and {Dim(k2)} differ";
            return null;
        }
        var dims = a.Dims.Take(a.Rank - 1).ToList();
        dims.Add(n.TransB ? b[0] : b[1]);
        return new Shape(dims.ToArray());
    }

    static Shape? ReduceAxisRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        return n.KeepDims ? x.With(n.Axis, 1) : x.Without(n.Axis);
    }

    static Shape? SoftmaxCrossEntropyRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var logits = s[0];
        if (logits.Rank != 2 || !logits.IsBatched)
        {
            e = $"logits have shape {logits}; SoftmaxCrossEntropy takes (B, classes) with one label per sample"
                + (logits.IsBatched && logits.Rank == 3 ? "; for a class per position, use SequenceCrossEntropy(logits, targets) with one-hot targets of the logits' shape (a Tensor target)" : "");
            return null;
        }
        n.Aux = logits;
        return Ir.Shape.Scalar;
    }

    static Shape? MseRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        if (!s[0].Equals(s[1]))
        {
            e = $"prediction {s[0]} and target {s[1]} must have the same shape";
            return null;
        }
        return Ir.Shape.Scalar;
    }

    static string Dim(int d) => d == Ir.Shape.Batch ? "B" : d.ToString();

    // ---------------- emit helpers ----------------

    static Shape In(GradientBuilder g, Node n, int i) => g.Graph[n.Inputs[i]].Shape;

    static string Axes(IEmitContext c, Node n) => AxesOf(c.ShapeOf(n.Id), n.Axis);

    /// <summary>"outer, axis, inner" sizes of the (outer x axis x inner) view of a shape around an axis.</summary>
    static string AxesOf(Shape s, int axis) => $"{s.ProductExpr(0, axis)}, {s.DimExpr(axis)}, {s.ProductExpr(axis + 1, s.Rank)}";

    static string ShapeSpan(Shape s) => s.Rank == 0 ? "ReadOnlySpan<int>.Empty" : $"stackalloc int[] {{ {string.Join(", ", s.Dims.Select((d, i) => s.DimExpr(i)))} }}";

    static void EmitMatMul(IEmitContext c, Node n)
    {
        Shape a = c.ShapeOf(n.Inputs[0]), b = c.ShapeOf(n.Inputs[1]), y = c.ShapeOf(n.Id);
        string m = y.ProductExpr(0, y.Rank - 1), cols = y.DimExpr(y.Rank - 1);
        string k = n.TransA ? a.ProductExpr(0, a.Rank - 1) : a.DimExpr(a.Rank - 1);
        string lda = a.DimExpr(a.Rank - 1), ldb = b.DimExpr(b.Rank - 1);
        var (bias, act) = c.Epilogue(n);
        string epilogue = bias >= 0 ? $", bias: {c.Buf(bias)}" : "";
        if (act != "None") epilogue += $", activation: Activation.{act}";
        c.Call("Gemm.Sgemm", $"{(n.TransA ? "true" : "false")}, {(n.TransB ? "true" : "false")}, {m}, {cols}, {k}, {c.Buf(n.Inputs[0])}, {lda}, {c.Buf(n.Inputs[1])}, {ldb}, {c.Buf(n.Id)}, {cols}{epilogue}");
    }
}
