using System;
using System.Linq;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

// The sequence family: GELU, embedding, layer normalization, multi-head attention, LSTM, GRU and the per-position
// cross-entropy. Sequences are (B, T, features) with T static. Ops that keep something for their backward pass
// (statistics, attention probabilities, gates, BPTT carries) declare it as the node's Aux buffer; backward kernels
// take the forward node as an input so that its Aux stays alive and can be named.
internal static partial class OpTable
{
    static partial void Sequence()
    {
        // ---- GELU, exact (erf) form: elementwise, fused into loops like the core activations ----
        Row(new("Gelu", OpKind.Elementwise, 1, Same) { Scalar = "Kernels.Gelu({0})", Vector = "Kernels.Gelu({0})",
            Backward = (g, n, dy) => new[] { g.Op("GeluGrad", new[] { n.Inputs[0], dy }) } });
        // GeluGrad(x, dy) = dy·(Φ(x) + x·φ(x)), in terms of the input x
        Row(new("GeluGrad", OpKind.Elementwise, 2, SameAsFirst) { Scalar = "Kernels.GeluGrad({0}, {1})", Vector = "Kernels.GeluGrad({0}, {1})" });

        // ---- Embedding(ids, weight): ids (…) as floats, weight (count, dim) → (…, dim) ----
        Row(new("Embedding", OpKind.Kernel, 2, EmbeddingRule)
        {
            Backward = (g, n, dy) => new[] { -1, g.Op("EmbeddingGrad", new[] { n.Inputs[0], dy }, x => x.Like = In(g, n, 1)) },
            Calls = new[] { "Kernels.Embedding" },
            Emit = (c, n) =>
            {
                var w = c.ShapeOf(n.Inputs[1]);
                c.Call("Kernels.Embedding", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {w[0]}, {w[1]}");
            },
        });
        Row(new("EmbeddingGrad", OpKind.Kernel, 2, LikeRule)
        {
            Calls = new[] { "Kernels.EmbeddingBackward" },
            Emit = (c, n) =>
            {
                var w = c.ShapeOf(n.Id);
                c.Call("Kernels.EmbeddingBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {w[0]}, {w[1]}");
            },
        });

        // ---- LayerNorm(x, weight, bias) over the last dimension; Aux: (mean, rstd) per row; Reals: { epsilon } ----
        Row(new("LayerNorm", OpKind.Kernel, 3, LayerNormRule)
        {
            Backward = (g, n, dy) => new[]
            {
                g.Op("LayerNormGrad", new[] { n.Id, n.Inputs[0], n.Inputs[1], dy }),
                g.Op("LayerNormWeightGrad", new[] { n.Id, n.Inputs[0], dy }, x => x.Like = In(g, n, 1)),
                g.ReduceTo(dy, In(g, n, 2)),
            },
            Calls = new[] { "Kernels.LayerNorm" },
            Emit = (c, n) =>
            {
                var (rows, f) = LastDimRows(c.ShapeOf(n.Id));
                c.Call("Kernels.LayerNorm", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {rows}, {f}, {FloatLiteral(n.Reals[0])}");
            },
        });
        // LayerNormGrad(forward, x, weight, dy) → dx
        Row(new("LayerNormGrad", OpKind.Kernel, 4, (Node n, Shape[] s, out string? e) => { e = null; return s[1]; })
        {
            Calls = new[] { "Kernels.LayerNormBackward" },
            Emit = (c, n) =>
            {
                var (rows, f) = LastDimRows(c.ShapeOf(n.Id));
                c.Call("Kernels.LayerNormBackward", $"{c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[3])}, {c.Buf(n.Id)}, {rows}, {f}");
            },
        });
        // LayerNormWeightGrad(forward, x, dy) → dweight
        Row(new("LayerNormWeightGrad", OpKind.Kernel, 3, LikeRule)
        {
            Calls = new[] { "Kernels.LayerNormWeightBackward" },
            Emit = (c, n) =>
            {
                var (rows, f) = LastDimRows(c.ShapeOf(n.Inputs[1]));
                c.Call("Kernels.LayerNormWeightBackward", $"{c.Buf(n.Inputs[1])}, {c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {rows}, {f}");
            },
        });

        // ---- Attention(q, k, v): (B, T, D) each; Ints { heads, causal }; Aux: probabilities (B, heads, T, T) ----
        Row(new("Attention", OpKind.Kernel, 3, AttentionRule)
        {
            Backward = (g, n, dy) =>
            {
                var ints = n.Ints;
                int ds = g.Op("AttentionGradScores", new[] { n.Id, n.Inputs[2], dy }, x => x.Ints = ints);
                return new[]
                {
                    g.Op("AttentionGradQuery", new[] { ds, n.Inputs[1] }, x => x.Ints = ints),
                    g.Op("AttentionGradKey", new[] { ds, n.Inputs[0] }, x => x.Ints = ints),
                    g.Op("AttentionGradValue", new[] { n.Id, dy }, x => x.Ints = ints),
                };
            },
            Calls = new[] { "Kernels.Attention" },
            Emit = (c, n) => c.Call("Kernels.Attention", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Btd(c.ShapeOf(n.Id))}, {n.Ints[0]}, {(n.Ints[1] != 0 ? "true" : "false")}"),
        });
        // AttentionGradScores(forward, v, dy) → dScores (B, heads, T, T): softmax backward and the 1/√dh scale
        Row(new("AttentionGradScores", OpKind.Kernel, 3, (Node n, Shape[] s, out string? e) => { e = null; return ScoresShape(s[0], n.Ints[0]); })
        {
            Calls = new[] { "Kernels.AttentionBackwardScores" },
            Emit = (c, n) => c.Call("Kernels.AttentionBackwardScores", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {Btd(c.ShapeOf(n.Inputs[1]))}, {n.Ints[0]}"),
        });
        // AttentionGradQuery(dScores, k) → dq = dS·K;  AttentionGradKey(dScores, q) → dk = dSᵀ·Q
        Row(new("AttentionGradQuery", OpKind.Kernel, 2, (Node n, Shape[] s, out string? e) => { e = null; return s[1]; })
        {
            Calls = new[] { "Kernels.AttentionBackwardQuery" },
            Emit = (c, n) => c.Call("Kernels.AttentionBackwardQuery", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Btd(c.ShapeOf(n.Id))}, {n.Ints[0]}"),
        });
        Row(new("AttentionGradKey", OpKind.Kernel, 2, (Node n, Shape[] s, out string? e) => { e = null; return s[1]; })
        {
            Calls = new[] { "Kernels.AttentionBackwardKey" },
            Emit = (c, n) => c.Call("Kernels.AttentionBackwardKey", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Btd(c.ShapeOf(n.Id))}, {n.Ints[0]}"),
        });
        // AttentionGradValue(forward, dy) → dv = Pᵀ·dY
        Row(new("AttentionGradValue", OpKind.Kernel, 2, (Node n, Shape[] s, out string? e) => { e = null; return s[0]; })
        {
            Calls = new[] { "Kernels.AttentionBackwardValue" },
            Emit = (c, n) => c.Call("Kernels.AttentionBackwardValue", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {Btd(c.ShapeOf(n.Id))}, {n.Ints[0]}"),
        });

        // ---- Lstm(xw (B, T, 4H), wHh (H, 4H)) → (B, T, H); Aux: gates and cell states (B, T, 5H) ----
        Row(new("Lstm", OpKind.Kernel, 2, (Node n, Shape[] s, out string? e) => RecurrentRule(n, s, 4, 5, out e))
        {
            Backward = (g, n, dy) =>
            {
                int dGates = g.Op("LstmGrad", new[] { n.Id, n.Inputs[1], dy });
                return new[] { dGates, g.Op("RecurrentWeightGrad", new[] { n.Id, dGates }, x => x.Like = In(g, n, 1)) };
            },
            Calls = new[] { "Kernels.Lstm" },
            Emit = (c, n) => c.Call("Kernels.Lstm", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Btd(c.ShapeOf(n.Id))}"),
        });
        // LstmGrad(forward, wHh, dy) → dGates (B, T, 4H); Aux: the dh, dc carries (B, 2H)
        Row(new("LstmGrad", OpKind.Kernel, 3, (Node n, Shape[] s, out string? e) =>
        {
            e = null;
            int h = s[0][2];
            n.Aux = Shape.Batched(2 * h);
            return Shape.Batched(s[0][1], 4 * h);
        })
        {
            Calls = new[] { "Kernels.LstmBackward" },
            Emit = (c, n) => c.Call("Kernels.LstmBackward", $"{c.Buf(n.Inputs[1])}, {c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Btd(c.ShapeOf(n.Inputs[0]))}"),
        });
        // RecurrentWeightGrad(forward h (B, T, H), dPre) → (H, width) = Σ h_{t−1}ᵀ·dPre_t; for a GruGrad dPre the
        // gradient of the recurrent pre-activations is its Aux (B, T + 1, 3H): Ints { 1 } says so.
        Row(new("RecurrentWeightGrad", OpKind.Kernel, 2, LikeRule)
        {
            Calls = new[] { "Kernels.RecurrentWeightBackward" },
            Emit = (c, n) =>
            {
                var w = c.ShapeOf(n.Id);
                var h = c.ShapeOf(n.Inputs[0]);
                bool gru = n.Ints.Length > 0 && n.Ints[0] == 1;
                string dPre = gru ? c.Aux(n.Inputs[1]) : c.Buf(n.Inputs[1]);
                string rows = gru ? (h[1] + 1).ToString() : h[1].ToString();
                c.Call("Kernels.RecurrentWeightBackward", $"{c.Buf(n.Inputs[0])}, {dPre}, {c.Buf(n.Id)}, {Btd(h)}, {w[1]}, {rows}");
            },
        });

        // ---- Gru(xw (B, T, 3H), wHh (H, 3H), bHh (3H)) → (B, T, H); Aux: r, z, n and hw (B, T, 6H) ----
        Row(new("Gru", OpKind.Kernel, 3, (Node n, Shape[] s, out string? e) =>
        {
            var y = RecurrentRule(n, s, 3, 6, out e);
            if (y != null && !s[2].Equals(new Shape(s[1][1])))
            {
                e = $"recurrent bias {s[2]} does not fit the recurrent weight {s[1]}";
                return null;
            }
            return y;
        })
        {
            Backward = (g, n, dy) =>
            {
                int dXw = g.Op("GruGrad", new[] { n.Id, n.Inputs[1], dy });
                return new[]
                {
                    dXw,
                    g.Op("RecurrentWeightGrad", new[] { n.Id, dXw }, x => { x.Like = In(g, n, 1); x.Ints = new[] { 1 }; }),
                    g.Op("GruBiasGrad", new[] { dXw }, x => x.Like = In(g, n, 2)),
                };
            },
            Calls = new[] { "Kernels.Gru" },
            Emit = (c, n) => c.Call("Kernels.Gru", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Btd(c.ShapeOf(n.Id))}"),
        });
        // GruGrad(forward, wHh, dy) → dXw (B, T, 3H); Aux: dHw and the dh carry (B, T + 1, 3H)
        Row(new("GruGrad", OpKind.Kernel, 3, (Node n, Shape[] s, out string? e) =>
        {
            e = null;
            int t = s[0][1], h = s[0][2];
            n.Aux = Shape.Batched(t + 1, 3 * h);
            return Shape.Batched(t, 3 * h);
        })
        {
            Calls = new[] { "Kernels.GruBackward" },
            Emit = (c, n) => c.Call("Kernels.GruBackward", $"{c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[0])}, {c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {Btd(c.ShapeOf(n.Inputs[0]))}"),
        });
        // GruBiasGrad(gruGrad) → (3H) = Σ dHw
        Row(new("GruBiasGrad", OpKind.Kernel, 1, LikeRule)
        {
            Calls = new[] { "Kernels.GruBiasBackward" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Call("Kernels.GruBiasBackward", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Id)}, {s.DimExpr(0)}, {s[1]}, {s[2] / 3}");
            },
        });

        // ---- SequenceCrossEntropy(logits (B, …, V), targets of the same shape) → scalar; Aux: the softmax ----
        Row(new("SequenceCrossEntropy", OpKind.Kernel, 2, (Node n, Shape[] s, out string? e) =>
        {
            e = null;
            if (!s[0].Equals(s[1]) || s[0].Rank < 2 || !s[0].IsBatched)
            {
                e = $"logits {s[0]} and targets {s[1]} must have the same batched shape (B, …, classes)";
                return null;
            }
            n.Aux = s[0];
            return Shape.Scalar;
        })
        {
            Backward = (g, n, dy) => new[] { g.Op("SequenceCrossEntropyGrad", new[] { n.Id, n.Inputs[1], dy }, x => x.Like = In(g, n, 0)), -1 },
            Calls = new[] { "Kernels.SequenceCrossEntropy" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Result(n.Id, "Kernels.SequenceCrossEntropy", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Aux(n.Id)}, {s.ProductExpr(0, s.Rank - 1)}, {s[s.Rank - 1]}");
            },
        });
        Row(new("SequenceCrossEntropyGrad", OpKind.Kernel, 3, LikeRule)
        {
            Calls = new[] { "Kernels.SequenceCrossEntropyBackward" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Id);
                c.Call("Kernels.SequenceCrossEntropyBackward", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}, {s.ProductExpr(0, s.Rank - 1)}, {s[s.Rank - 1]}");
            },
        });
    }

    static string FloatLiteral(double v) => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture) + "f";

    /// <summary>(rows, features) of a shape's last-dimension view, as C# source.</summary>
    static (string Rows, int Features) LastDimRows(Shape s) => (s.ProductExpr(0, s.Rank - 1), s[s.Rank - 1]);

    /// <summary>"B, T, D" of a (B, T, D) shape, as C# source.</summary>
    static string Btd(Shape s) => $"{s.DimExpr(0)}, {s[1]}, {s[2]}";

    static Shape ScoresShape(Shape x, int heads) => Shape.Batched(heads, x[1], x[1]);

    static Shape? EmbeddingRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        if (s[1].Rank != 2 || s[1].IsBatched)
        {
            e = $"ids {s[0]} and weight {s[1]}: the weight must be a (count, dim) table";
            return null;
        }
        return new Shape(s[0].Dims.Concat(new[] { s[1][1] }).ToArray());
    }

    static Shape? LayerNormRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        if (x.Rank < 1 || x[x.Rank - 1] == Shape.Batch || !s[1].Equals(new Shape(x[x.Rank - 1])) || !s[2].Equals(new Shape(x[x.Rank - 1])))
        {
            e = $"input {x}, weight {s[1]} and bias {s[2]} do not fit: weight and bias need the input's last dimension";
            return null;
        }
        n.Aux = new Shape(x.Dims.Take(x.Rank - 1).Concat(new[] { 2 }).ToArray());
        return x;
    }

    static Shape? AttentionRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var q = s[0];
        if (q.Rank != 3 || !q.IsBatched || !q.Equals(s[1]) || !q.Equals(s[2]))
        {
            e = $"queries {s[0]}, keys {s[1]} and values {s[2]} must all be the same (B, T, dim)";
            return null;
        }
        int heads = n.Ints.Length > 0 ? n.Ints[0] : 0;
        if (heads <= 0 || q[2] % heads != 0)
        {
            e = $"dim {q[2]} of {q} is not divisible by {heads} heads";
            return null;
        }
        n.Aux = ScoresShape(q, heads);
        return q;
    }

    static Shape? RecurrentRule(Node n, Shape[] s, int gates, int saved, out string? e)
    {
        e = null;
        Shape xw = s[0], w = s[1];
        if (xw.Rank != 3 || !xw.IsBatched || w.Rank != 2 || w[1] != gates * w[0] || xw[2] != w[1])
        {
            e = $"gate inputs {xw} and recurrent weight {w} do not fit: need (B, T, {gates}H) and (H, {gates}H)";
            return null;
        }
        n.Aux = Shape.Batched(xw[1], saved * w[0]);
        return Shape.Batched(xw[1], w[0]);
    }
}
