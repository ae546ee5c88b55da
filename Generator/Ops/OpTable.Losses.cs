using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

// Losses family: binary cross-entropy with logits, L1, Huber and cross-entropy with label smoothing. Each is a
// scalar mean (over all elements, or over the rows for the cross-entropy) computed by one runtime kernel; the
// gradient rows take the loss's gradient dy as their last operand.
internal static partial class OpTable
{
    static partial void Losses()
    {
        Row(new("BinaryCrossEntropyWithLogits", OpKind.Kernel, 2, MseRule)
        {
            Backward = (g, n, dy) => new[]
            {
                g.Op("BinaryCrossEntropyWithLogitsGrad", new[] { n.Inputs[0], n.Inputs[1], dy }),
                g.Op("BinaryCrossEntropyWithLogitsTargetGrad", new[] { n.Inputs[0], n.Inputs[1], dy }),
            },
            Calls = new[] { "Kernels.BinaryCrossEntropyWithLogits" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.BinaryCrossEntropyWithLogits", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}"),
        });
        Row(new("BinaryCrossEntropyWithLogitsGrad", OpKind.Kernel, 3, SameAsFirst)
        {
            Calls = new[] { "Kernels.BinaryCrossEntropyWithLogitsBackward" },
            Emit = (c, n) => c.Call("Kernels.BinaryCrossEntropyWithLogitsBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}, default"),
        });
        Row(new("BinaryCrossEntropyWithLogitsTargetGrad", OpKind.Kernel, 3, SameAsFirst)
        {
            Calls = new[] { "Kernels.BinaryCrossEntropyWithLogitsBackward" },
            Emit = (c, n) => c.Call("Kernels.BinaryCrossEntropyWithLogitsBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Scalar(n.Inputs[2])}, default, {c.Buf(n.Id)}"),
        });

        Row(new("L1Loss", OpKind.Kernel, 2, MseRule)
        {
            Backward = (g, n, dy) =>
            {
                int dp = g.Op("L1LossGrad", new[] { n.Inputs[0], n.Inputs[1], dy });
                return new[] { dp, g.Op("Neg", new[] { dp }) };
            },
            Calls = new[] { "Kernels.L1Loss" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.L1Loss", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}"),
        });
        Row(new("L1LossGrad", OpKind.Kernel, 3, SameAsFirst)
        {
            Calls = new[] { "Kernels.L1LossBackward" },
            Emit = (c, n) => c.Call("Kernels.L1LossBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}"),
        });

        // Reals: delta.
        Row(new("HuberLoss", OpKind.Kernel, 2, MseRule)
        {
            Backward = (g, n, dy) =>
            {
                int dp = g.Op("HuberLossGrad", new[] { n.Inputs[0], n.Inputs[1], dy }, x => x.Reals = n.Reals);
                return new[] { dp, g.Op("Neg", new[] { dp }) };
            },
            Calls = new[] { "Kernels.HuberLoss" },
            Emit = (c, n) => c.Result(n.Id, "Kernels.HuberLoss", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Real(n.Reals[0])}"),
        });
        Row(new("HuberLossGrad", OpKind.Kernel, 3, SameAsFirst)
        {
            Calls = new[] { "Kernels.HuberLossBackward" },
            Emit = (c, n) => c.Call("Kernels.HuberLossBackward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Real(n.Reals[0])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}"),
        });

        // CrossEntropy(logits, labels), Reals: label smoothing; Aux keeps the softmax probabilities.
        Row(new("CrossEntropy", OpKind.Kernel, 2, CrossEntropyRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("CrossEntropyGrad", new[] { n.Id, n.Inputs[1], dy }, x => { x.Like = In(g, n, 0); x.Reals = n.Reals; }), -1 },
            Calls = new[] { "Kernels.CrossEntropy" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Inputs[0]);
                c.Result(n.Id, "Kernels.CrossEntropy", $"{c.Buf(n.Inputs[0])}, {c.Labels}, {s.DimExpr(0)}, {s.DimExpr(1)}, {c.Real(n.Reals[0])}, {c.Aux(n.Id)}");
            },
        });
        Row(new("CrossEntropyGrad", OpKind.Kernel, 3, LikeRule)
        {
            Calls = new[] { "Kernels.CrossEntropyBackward" },
            Emit = (c, n) =>
            {
                var s = c.ShapeOf(n.Id);
                c.Call("Kernels.CrossEntropyBackward", $"{c.Aux(n.Inputs[0])}, {c.Labels}, {s.DimExpr(0)}, {s.DimExpr(1)}, {c.Real(n.Reals[0])}, {c.Scalar(n.Inputs[2])}, {c.Buf(n.Id)}");
            },
        });
    }

    static Shape? CrossEntropyRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var logits = s[0];
        if (logits.Rank != 2 || !logits.IsBatched)
        {
            e = $"logits have shape {logits}; CrossEntropy takes (B, classes) with one label per sample"
                + (logits.IsBatched && logits.Rank == 3 ? "; for a class per position, use SequenceCrossEntropy(logits, targets) with one-hot targets of the logits' shape (a Tensor target)" : "");
            return null;
        }
        n.Aux = logits;
        return Shape.Scalar;
    }
}
