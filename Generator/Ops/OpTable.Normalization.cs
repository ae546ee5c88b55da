using System.Globalization;
using ModelGen.Generator.Ir;

namespace ModelGen.Generator.Ops;

// Normalization family: SiLU and leaky ReLU (elementwise, fusable), batch normalization (training with batch
// statistics and a running-statistics effect; inference with running statistics) and dropout (counter-based masks).
// Batch normalization views its input as (n, c, s): n = B, c = dimension 1, s = the product of the rest.
internal static partial class OpTable
{
    static partial void Normalization()
    {
        // ---- activations: y = x·sigmoid(x); y = x > 0 ? x : slope·x (the slope is a constant second operand) ----
        Row(new("Silu", OpKind.Elementwise, 1, Same) { Scalar = "{0} * VMath.Sigmoid({0})", Vector = "{0} * VMath.Sigmoid({0})",
            Backward = (g, n, dy) => new[] { g.Op("SiluGrad", new[] { n.Inputs[0], dy }) } });
        // dx = dy·s·(1 + x·(1 − s)) with s = sigmoid(x)
        Row(new("SiluGrad", OpKind.Elementwise, 2, SameAsFirst)
        {
            Scalar = "{1} * VMath.Sigmoid({0}) * (1f + {0} * (1f - VMath.Sigmoid({0})))",
            Vector = "{1} * VMath.Sigmoid({0}) * (V<float>.One + {0} * (V<float>.One - VMath.Sigmoid({0})))",
        });
        Row(new("LeakyRelu", OpKind.Elementwise, 2, SameAsFirst)
        {
            Scalar = "({0} > 0f ? {0} : {1} * {0})",
            Vector = "V.ConditionalSelect(V.GreaterThan({0}, V<float>.Zero), {0}, {1} * {0})",
            Backward = (g, n, dy) => new[] { g.Op("LeakyReluGrad", new[] { n.Inputs[0], dy, n.Inputs[1] }), -1 },
        });
        Row(new("LeakyReluGrad", OpKind.Elementwise, 3, SameAsFirst)
        {
            Scalar = "({0} > 0f ? {1} : {2} * {1})",
            Vector = "V.ConditionalSelect(V.GreaterThan({0}, V<float>.Zero), {1}, {2} * {1})",
        });

        // ---- batch normalization (Reals: epsilon, momentum) ----
        // BatchNorm(x, weight, bias): batch statistics; Aux (3·c) keeps mean, 1/sqrt(var + eps) and the biased variance.
        Row(new("BatchNorm", OpKind.Kernel, 3, BatchNormRule)
        {
            Backward = (g, n, dy) =>
            {
                int dw = g.Op("BatchNormWeightGrad", new[] { n.Inputs[0], n.Id, dy });
                int db = g.Op("BatchNormBiasGrad", new[] { n.Inputs[0], n.Id, dy });
                int dx = g.Op("BatchNormInputGrad", new[] { n.Inputs[0], n.Inputs[1], n.Id, dy, dw, db });
                return new[] { dx, dw, db };
            },
            Calls = new[] { "Kernels.BatchNormForward" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                c.Call("Kernels.BatchNormForward", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, {c.Aux(n.Id)}, {rows}, {ch}, {s}, {c.Real(n.Reals[0])}");
            },
        });
        // BatchNormUpdate(bn, runningMean, runningVar): the running-statistics update, a node of graph.Effects.
        Row(new("BatchNormUpdate", OpKind.Kernel, 3, ToScalar)
        {
            Calls = new[] { "Kernels.BatchNormUpdateRunning" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                string count = s == "1" ? rows : $"{rows} * {s}";
                c.Call("Kernels.BatchNormUpdateRunning", $"{c.Aux(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {ch}, {count}, {c.Real(n.Reals[1])}");
            },
        });
        // BatchNormInference(x, weight, bias, runningMean, runningVar): running statistics.
        Row(new("BatchNormInference", OpKind.Kernel, 5, (Node n, Shape[] s, out string? e) => { var y = BatchNormRule(n, s, out e); n.Aux = null; return y; })
        {
            Calls = new[] { "Kernels.BatchNormInference" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                c.Call("Kernels.BatchNormInference", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Inputs[3])}, {c.Buf(n.Inputs[4])}, {c.Buf(n.Id)}, {rows}, {ch}, {s}, {c.Real(n.Reals[0])}");
            },
        });
        // Gradients: Σ dy·x̂ and Σ dy per channel (x, bn, dy), then dx from both (x, weight, bn, dy, dweight, dbias).
        Row(new("BatchNormWeightGrad", OpKind.Kernel, 3, ChannelsRule)
        {
            Calls = new[] { "Kernels.BatchNormParameterGradients" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                c.Call("Kernels.BatchNormParameterGradients", $"{c.Buf(n.Inputs[0])}, {c.Aux(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, {c.Buf(n.Id)}, default, {rows}, {ch}, {s}");
            },
        });
        Row(new("BatchNormBiasGrad", OpKind.Kernel, 3, ChannelsRule)
        {
            Calls = new[] { "Kernels.BatchNormParameterGradients" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                c.Call("Kernels.BatchNormParameterGradients", $"{c.Buf(n.Inputs[0])}, {c.Aux(n.Inputs[1])}, {c.Buf(n.Inputs[2])}, default, {c.Buf(n.Id)}, {rows}, {ch}, {s}");
            },
        });
        Row(new("BatchNormInputGrad", OpKind.Kernel, 6, Same)
        {
            Calls = new[] { "Kernels.BatchNormInputGradient" },
            Emit = (c, n) =>
            {
                var (rows, ch, s) = BatchNormView(c.ShapeOf(n.Inputs[0]));
                c.Call("Kernels.BatchNormInputGradient", $"{c.Buf(n.Inputs[0])}, {c.Buf(n.Inputs[1])}, {c.Aux(n.Inputs[2])}, {c.Buf(n.Inputs[3])}, {c.Buf(n.Inputs[4])}, {c.Buf(n.Inputs[5])}, {c.Buf(n.Id)}, {rows}, {ch}, {s}");
            },
        });

        // ---- dropout (Reals: p; Name: the layer path, whose hash salts the mask); Aux keeps the mask ----
        Row(new("Dropout", OpKind.Kernel, 1, DropoutRule)
        {
            Backward = (g, n, dy) => new[] { g.Op("DropoutGrad", new[] { n.Id, dy }) },
            Calls = new[] { "Kernels.DropoutForward" },
            Emit = (c, n) => c.Call("Kernels.DropoutForward", $"{c.Buf(n.Inputs[0])}, {c.Aux(n.Id)}, {c.Buf(n.Id)}, {c.Real(n.Reals[0])}, Seed, {Salt(n.Name ?? "")}UL, Steps", $"salt of \"{n.Name}\""),
        });
        Row(new("DropoutGrad", OpKind.Kernel, 2, Same)
        {
            Calls = new[] { "Kernels.DropoutBackward" },
            Emit = (c, n) => c.Call("Kernels.DropoutBackward", $"{c.Buf(n.Inputs[1])}, {c.Aux(n.Inputs[0])}, {c.Buf(n.Id)}"),
        });
    }

    static Shape? BatchNormRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        var x = s[0];
        int channels = s[1].Rank == 1 ? s[1][0] : -1;
        if (x.Rank != 2 && x.Rank != 4 || x[1] != channels)
        {
            e = $"input shape {x} and parameter shape {s[1]} do not fit: batch normalization takes (B, {channels}) or (B, {channels}, H, W)";
            return null;
        }
        n.Aux = new Shape(3 * channels);
        return x;
    }

    /// <summary>(C): the per-channel gradients of batch normalization.</summary>
    static Shape? ChannelsRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        return new Shape(s[0][1]);
    }

    static Shape? DropoutRule(Node n, Shape[] s, out string? e)
    {
        e = null;
        n.Aux = s[0];
        return s[0];
    }

    /// <summary>"n, c, s" sizes of the (n, c, s) view of a batch-normalized shape.</summary>
    static (string N, string C, string S) BatchNormView(Shape x) => (x.DimExpr(0), x.DimExpr(1), x.Rank > 2 ? x.ProductExpr(2, x.Rank) : "1");


    /// <summary>The dropout salt of a layer path: FNV-1a (64-bit) over UTF-16 code units, as DropoutRandom.Salt in the runtime.</summary>
    internal static string Salt(string path)
    {
        ulong h = 14695981039346656037UL;
        foreach (char ch in path)
        {
            h ^= ch;
            h *= 1099511628211UL;
        }
        return "0x" + h.ToString("X16", CultureInfo.InvariantCulture);
    }
}
